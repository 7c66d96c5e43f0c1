using ServiceNodeInvoker.Invocation;

namespace ServiceNodeInvoker.Tests.Invocation;

/// <summary>Forward mode's target URL, directly: the base + the caller's path and query, never a way out of the base.</summary>
[Trait("Tier", "Fast")]
public sealed class ForwardTargetTests
{
    private static readonly Uri Base = new("https://partner.example:8443/api/v2/");

    [Theory]
    [InlineData("/api/forward/pay/orders/7?expand=items", "https://partner.example:8443/api/v2/orders/7?expand=items")]
    [InlineData("/api/forward/pay", "https://partner.example:8443/api/v2/")]
    [InlineData("/api/forward/PAY/a%20b/", "https://partner.example:8443/api/v2/a%20b/")]
    [InlineData("/api/forward/pay/x?code=function-key&y=1", "https://partner.example:8443/api/v2/x?y=1")]
    public void The_rest_of_the_path_and_the_query_go_under_the_base_as_written(string raw, string expected) =>
        Assert.Equal(expected, ForwardTarget.Build(Base, raw, "pay").AbsoluteUri);

    [Theory]
    [InlineData("/api/forward/pay/../admin")]
    [InlineData("/api/forward/pay/%2e%2e/admin")]
    [InlineData("/api/forward/pay/a%2Fb")]
    [InlineData("/api/forward/pay/a%5Cb")]
    [InlineData("/api/forward/pay//double")]
    [InlineData("/api/forward/pay/%zz")]
    [InlineData("/api/forward/other/x")]
    public void A_path_that_could_leave_the_base_is_refused(string raw)
    {
        var error = Assert.Throws<InvokerException>(() => ForwardTarget.Build(Base, raw, "pay"));
        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
    }
}
