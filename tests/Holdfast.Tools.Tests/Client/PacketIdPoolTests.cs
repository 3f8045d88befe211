using Holdfast.Client;

namespace Holdfast.Tools.Tests.Client;

public class PacketIdPoolTests
{
    [Fact]
    public void Ids_in_use_are_never_handed_out_again_until_released()
    {
        var pool = new PacketIdPool();
        pool.Hold(2);
        Assert.True(pool.TryTake(out var first));
        Assert.True(pool.TryTake(out var second));
        Assert.Equal(1, first);
        Assert.Equal(3, second);
        for (int i = 3; i < 65535; i++) Assert.True(pool.TryTake(out _));
        Assert.False(pool.TryTake(out _));
        pool.Release(40_000);
        Assert.True(pool.TryTake(out var reused));
        Assert.Equal(40_000, reused);
    }
}
