using Holdfast.Server.Logging;

namespace Holdfast.Server.Tests;

public class LogTimestampFormatTests
{
    private static readonly DateTimeOffset Time = new(2025, 3, 7, 9, 5, 4, TimeSpan.FromHours(1));

    [Theory]
    [InlineData("%Y-%m-%dT%H:%M:%S", "2025-03-07T09:05:04")]
    [InlineData("%Y-%m-%dT%H:%M:%S%z", "2025-03-07T09:05:04+0100")]
    [InlineData("%F %T", "2025-03-07 09:05:04")]
    [InlineData("[%s]", "[1741334704]")]
    [InlineData("100%% at %H", "100% at 09")]
    [InlineData("plain text", "plain text")]
    [InlineData("", "")]
    public void Formats_supported_conversions(string format, string expected) =>
        Assert.Equal(expected, LogTimestampFormat.Parse(format).Format(Time));

    [Fact]
    public void Negative_offsets_format_like_strftime() =>
        Assert.Equal("-0530", LogTimestampFormat.Parse("%z").Format(new DateTimeOffset(2025, 1, 1, 0, 0, 0, new TimeSpan(-5, -30, 0))));

    [Theory]
    [InlineData("%Q")]
    [InlineData("%")]
    [InlineData("%Y %b")]
    public void Rejects_what_it_cannot_format(string format)
    {
        Assert.False(LogTimestampFormat.TryParse(format, out _, out var error));
        Assert.NotEmpty(error);
        Assert.Throws<FormatException>(() => LogTimestampFormat.Parse(format));
    }
}
