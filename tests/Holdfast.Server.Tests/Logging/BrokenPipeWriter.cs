using System.Text;

namespace Holdfast.Server.Tests.Logging;

/// <summary>A destination whose every write fails, as stdout does once its reader has gone (EPIPE).</summary>
internal sealed class BrokenPipeWriter : TextWriter
{
    public int Attempts { get; private set; }

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        Attempts++;
        throw new IOException("Broken pipe");
    }
}
