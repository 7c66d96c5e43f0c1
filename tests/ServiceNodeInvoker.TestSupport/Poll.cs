namespace ServiceNodeInvoker.TestSupport;

/// <summary>The one way tests wait for something that happens in the background: poll with a deadline, never sleep.</summary>
public static class Poll
{
    /// <summary>Long enough for a loaded CI machine; a condition that holds returns at once.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="condition"/> holds; fails naming <paramref name="what"/> when the deadline passes first.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out after {(deadline ?? DefaultDeadline).TotalSeconds:0} s waiting for {what}");
            }
            await Task.Delay(Interval); // the poll interval, bounded by the deadline
        }
    }

    /// <summary>Waits until <paramref name="read"/> returns a value <paramref name="done"/> accepts, and returns it.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out after {(deadline ?? DefaultDeadline).TotalSeconds:0} s waiting for {what}; last: {value}");
            }
            await Task.Delay(Interval);
        }
    }
}
