namespace Holdfast.Server.Observability;

/// <summary>
/// Mosquitto's $SYS/broker/load/... figures for one counter: its rate per minute over the last interval, smoothed
/// by exponential moving averages with 1, 5 and 15 minute time constants (as Unix load averages), so an interval of
/// any length gives comparable numbers.
/// </summary>
internal sealed class LoadAverage
{
    private long _last;

    public double OneMinute { get; private set; }
    public double FiveMinutes { get; private set; }
    public double FifteenMinutes { get; private set; }

    /// <summary>Takes the counter's value <paramref name="seconds"/> after the previous update.</summary>
    public void Update(long counter, double seconds)
    {
        double perMinute = (counter - _last) * 60.0 / seconds;
        _last = counter;
        OneMinute = Smooth(OneMinute, perMinute, seconds, 60);
        FiveMinutes = Smooth(FiveMinutes, perMinute, seconds, 300);
        FifteenMinutes = Smooth(FifteenMinutes, perMinute, seconds, 900);
    }

    private static double Smooth(double average, double value, double seconds, double window) =>
        value + Math.Exp(-seconds / window) * (average - value);
}
