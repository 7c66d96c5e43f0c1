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
        // The verdict is the poll's own last reading: asking again could see a state that has since moved on.
        var held = await LatestAsync(() => Task.FromResult(condition()), holds => holds, deadline);
        Assert.True(held, $"timed out after {(deadline ?? DefaultDeadline).TotalSeconds:0} s waiting for {what}");
    }

    /// <summary>
    /// Reads until <paramref name="done"/> accepts a value or the deadline passes, and returns the last value read
    /// either way: the assertions that follow say what was wrong with it.
    /// </summary>
    public static async Task<T> LatestAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? DefaultDeadline);
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > until)
            {
                return value;
            }
            await Task.Delay(Interval); // the poll interval, bounded by the deadline
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds or the deadline passes, without failing: the assertions that follow do.</summary>
    public static Task WhileNotAsync(Func<bool> condition, TimeSpan? deadline = null) =>
        LatestAsync(() => Task.FromResult(condition()), holds => holds, deadline);
}
