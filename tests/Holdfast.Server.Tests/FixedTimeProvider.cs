namespace Holdfast.Server.Tests;

/// <summary>A clock stopped at one instant, in a chosen time zone, so log lines are predictable.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset utcNow, TimeSpan localOffset) : TimeProvider
{
    private readonly TimeZoneInfo _zone = TimeZoneInfo.CreateCustomTimeZone("Test", localOffset, "Test", "Test");

    public override DateTimeOffset GetUtcNow() => utcNow;

    public override TimeZoneInfo LocalTimeZone => _zone;
}
