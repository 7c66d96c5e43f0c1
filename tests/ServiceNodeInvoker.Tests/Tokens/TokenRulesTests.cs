using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Tokens;

namespace ServiceNodeInvoker.Tests.Tokens;

/// <summary>The pure rules of the token source: what a token may be, how long a retry waits, when a token is renewed, how party text is quoted.</summary>
[Trait("Tier", "Fast")]
public sealed class TokenRulesTests
{
    [Theory]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")] // a JWT
    [InlineData("2YotnFZFEjr1zCsicMWpAA")]                      // RFC 6749's own example
    [InlineData("a-b.c_d~e+f/g==")]
    [InlineData("Zm9v=")]
    public void A_b64token_is_a_token(string token) => Assert.Null(TokenClient.TokenProblem(token));

    [Theory]
    [InlineData("=abc", "it starts with '='")]
    [InlineData("ab=c", "a character follows its '=' padding at position 3")]
    [InlineData("a\tb", "it holds a control character (0x09) at position 1")]
    [InlineData("a\u2028b", "it holds a non-ASCII character (U+2028) at position 1")]
    [InlineData("a,b", "it holds ',' at position 1")]
    public void Anything_else_is_named_without_quoting_the_token(string token, string problem) =>
        Assert.Equal(problem, TokenClient.TokenProblem(token));

    [Fact]
    public void A_retry_after_Retry_After_waits_it_plus_at_most_half_of_it()
    {
        var delays = Enumerable.Range(0, 2000).Select(_ => TokenCache.RetryDelay(1, TimeSpan.FromSeconds(10), Random.Shared.NextDouble())).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15)));
        Assert.True(delays.Distinct().Count() > 100, "the added wait is drawn, so instances told the same second spread out");
    }

    [Theory]
    [InlineData(1, 500)]
    [InlineData(2, 1000)]
    [InlineData(4, 4000)]
    [InlineData(5, 8000)]
    [InlineData(30, 8000)]
    public void Without_Retry_After_the_wait_is_full_jitter_under_a_doubling_ceiling(int throttles, int ceilingMs)
    {
        var delays = Enumerable.Range(0, 2000).Select(_ => TokenCache.RetryDelay(throttles, null, Random.Shared.NextDouble())).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromMilliseconds(ceilingMs)));
        Assert.True(delays.Max() > TimeSpan.FromMilliseconds(ceilingMs * 0.8), "the draw reaches toward its ceiling");
        Assert.True(delays.Min() < TimeSpan.FromMilliseconds(ceilingMs * 0.2), "and toward zero: full jitter");
    }

    [Fact]
    public void Tokens_are_renewed_between_65_and_75_percent_of_their_life_drawn_per_token()
    {
        var now = DateTimeOffset.UtcNow;
        var tokens = Enumerable.Range(0, 2000).Select(_ => new AccessToken("t", "", now, now.AddHours(1), [], true)).ToList();

        Assert.All(tokens, t => Assert.InRange(t.RenewAt, now.AddMinutes(39), now.AddMinutes(45)));
        Assert.True(tokens.Select(t => t.RenewAt).Distinct().Count() > 100, "instances that got their tokens together renew apart");
    }

    [Theory]
    [InlineData(10, "short", "short")]
    [InlineData(4, "line\r\nforged", "line… (12 characters)")]
    [InlineData(20, "line\r\nforged", "line\\x0D\\x0Aforged")]
    [InlineData(2, "a\U0001F600b", "a… (4 characters)")] // never half a surrogate pair
    [InlineData(14, "\u200B\u200B\u200B\u200B", "\\u200B\\u200B… (4 characters)")] // the cap is on what is shown, escapes whole
    public void Party_text_is_quoted_escaped_and_capped(int max, string text, string quoted) =>
        Assert.Equal(quoted, LogText.Quote(text, max));
}
