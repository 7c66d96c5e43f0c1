using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Callers;

/// <summary>Which caller may use which profile, directly.</summary>
[Trait("Tier", "Fast")]
public sealed class CallerGrantsTests
{
    private static TlsProfile Profile(string name, params string[] allowed) => new()
    {
        Name = name,
        Hosts = new HashSet<HostKey>(),
        AllowedCallers = new HashSet<string>(allowed, StringComparer.OrdinalIgnoreCase),
    };

    private static readonly CallerGrants Grants = new(new CallerOptions
    {
        Grants = new(StringComparer.OrdinalIgnoreCase) { ["bot-a"] = ["payments"] },
    });

    [Fact]
    public void An_open_profile_admits_every_caller_without_a_grant_list_of_its_own()
    {
        Assert.True(Grants.Allows("bot-b", Profile("payments")));
        Assert.True(Grants.Allows(null, Profile("payments", "*")));
    }

    [Fact]
    public void A_profile_that_lists_callers_admits_only_them()
    {
        Assert.True(Grants.Allows("BOT-B", Profile("claims", "bot-b")));
        Assert.False(Grants.Allows("bot-c", Profile("claims", "bot-b")));
        Assert.False(Grants.Allows(null, Profile("claims", "bot-b"))); // an unnamed caller (a function key) is not on any list
    }

    [Fact]
    public void A_callers_own_grant_list_replaces_the_default_and_the_profile_must_still_admit_it()
    {
        Assert.True(Grants.Allows("bot-a", Profile("payments")));
        Assert.False(Grants.Allows("bot-a", Profile("claims"))); // open, but not on bot-a's list
        Assert.False(Grants.Allows("bot-a", Profile("payments", "bot-b"))); // on the list, but the profile names others
    }
}
