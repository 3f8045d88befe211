using System.Text;

namespace Holdfast.Server.Tests.Logging;

/// <summary>A log destination that can be made to hang, like a stdout pipe nobody reads: while blocked, a write waits
/// at the gate and <see cref="Stuck"/> is set, so a test knows the writer thread is held there.</summary>
internal sealed class GatedWriter : TextWriter
{
    private readonly ManualResetEventSlim _gate = new(true);
    private readonly StringBuilder _text = new();

    public ManualResetEventSlim Stuck { get; } = new(false);

    public override Encoding Encoding => Encoding.UTF8;

    public void Block() => _gate.Reset();

    public void Release() => _gate.Set();

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        if (!_gate.IsSet)
        {
            Stuck.Set();
            _gate.Wait();
        }
        lock (_text)
            _text.Append(value);
    }

    public string[] Lines()
    {
        lock (_text)
            return _text.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gate.Dispose();
            Stuck.Dispose();
        }
        base.Dispose(disposing);
    }
}
