using Holdfast.Server.Connections;

namespace Holdfast.Server.Tests.Connections;

/// <summary>The handshake a takeover uses to let the old connection handle what it had received.</summary>
public sealed class ReadSettlingTests
{
    [Fact]
    public void A_request_is_answered_only_by_a_read_that_returned_after_it()
    {
        var settling = new ReadSettling();
        int wakes = 0;
        long beforeRequest = settling.Seen();          // a read returned, then the request came
        var request = settling.RequestAsync(() => wakes++);
        Assert.Equal(1, wakes);
        settling.Settled(beforeRequest);               // that read's bytes may predate what the requester waits for
        Assert.False(request.IsCompleted);

        long afterRequest = settling.Seen();           // the wake-up made the next read return
        settling.Settled(afterRequest);
        Assert.True(request.IsCompletedSuccessfully);
    }

    [Fact]
    public void Overlapping_requests_share_the_answer_of_the_read_after_the_last()
    {
        var settling = new ReadSettling();
        var first = settling.RequestAsync(() => { });
        long seen = settling.Seen();
        var second = settling.RequestAsync(() => { });
        settling.Settled(seen);
        Assert.False(first.IsCompleted);
        settling.Settled(settling.Seen());
        Assert.True(first.IsCompletedSuccessfully && second.IsCompletedSuccessfully);
    }

    [Fact]
    public void An_ended_read_loop_answers_every_request_and_later_ones_at_once()
    {
        var settling = new ReadSettling();
        var waiting = settling.RequestAsync(() => { });
        settling.Ended();
        Assert.True(waiting.IsCompletedSuccessfully);
        Assert.True(settling.RequestAsync(() => throw new InvalidOperationException("no reader to wake")).IsCompletedSuccessfully);
    }
}
