using ServiceNodeInvoker.Callers;
using ServiceNodeInvoker.Profiles;

namespace ServiceNodeInvoker.Tests.Callers;

/// <summary>What is in force while a configuration change waits to go live, and after it goes live or is refused.</summary>
[Trait("Tier", "Fast")]
public sealed class LiveCallerOptionsTests
{
    private static TlsProfile Profile(string name, params string[] allowed) => new()
    {
        Name = name,
        Hosts = new HashSet<HostKey>(),
        AllowedCallers = new HashSet<string>(allowed, StringComparer.OrdinalIgnoreCase),
    };

    private static CallerOptions Callers(Action<CallerOptions>? edit = null)
    {
        var options = new CallerOptions
        {
            ApiKeys = new(StringComparer.OrdinalIgnoreCase) { ["bot-a"] = new string('a', 64), ["bot-b"] = new string('b', 64) },
            AdminKeys = new(StringComparer.OrdinalIgnoreCase) { ["ops"] = new string('c', 64) },
            Certificates = new(StringComparer.OrdinalIgnoreCase)
            {
                ["partner"] = new() { Thumbprint = new string('d', 64) },
                ["other"] = new() { Subject = "CN=other" },
            },
            Grants = new(StringComparer.OrdinalIgnoreCase) { ["bot-a"] = ["payments", "claims"] },
        };
        edit?.Invoke(options);
        return options;
    }

    private static PendingCallers Pending(CallerOptions callers, params (string Name, string[] Allowed)[] profiles) =>
        PendingCallers.Of(callers, profiles.ToDictionary(p => p.Name, p => new ProfileOptions { AllowedCallers = [.. p.Allowed] }));

    [Fact]
    public void While_a_change_waits_only_keys_admin_keys_and_certificates_both_configurations_accept_are_in_force()
    {
        var live = new LiveCallerOptions(Callers());
        var next = Callers(c =>
        {
            c.ApiKeys["bot-a"] = new string('e', 64); // rotated
            c.ApiKeys["bot-new"] = new string('f', 64); // added
            c.ApiKeys["BOT-B"] = new string('B', 64); // the same hash, spelled otherwise
            c.AdminKeys.Clear();
            c.Certificates["partner"] = new() { Thumbprint = new string('D', 64) }; // the same thumbprint, spelled otherwise
            c.Certificates["other"] = new() { Subject = "CN=someone-else" };
        });

        var narrowed = live.Narrow(Pending(next, ("payments", [])));

        Assert.Equal(["bot-b"], narrowed.ApiKeys.Keys);
        Assert.Empty(narrowed.AdminKeys);
        Assert.Equal(["partner"], narrowed.Certificates.Keys);
        Assert.Same(narrowed, live.Current);
    }

    [Fact]
    public void A_change_that_goes_live_puts_its_callers_in_force_and_a_refused_one_puts_back_those_before_it()
    {
        var before = Callers();
        var live = new LiveCallerOptions(before);
        var next = Callers(c => c.ApiKeys.Remove("bot-a"));
        var state = live.State;

        live.Narrow(Pending(next, ("payments", [])));
        live.Replace(state.Current, state.Pending); // refused: what was in force before

        Assert.Equal(["bot-a", "bot-b"], live.Current.ApiKeys.Keys.Order());
        Assert.Empty(live.State.Pending);
        Assert.True(new CallerGrants(live).Allows("bot-b", Profile("payments")));

        live.Narrow(Pending(next, ("payments", [])));
        live.Replace(next); // applied
        Assert.Equal(["bot-b"], live.Current.ApiKeys.Keys);
        Assert.Empty(live.State.Pending);
    }

    [Fact]
    public void While_a_change_waits_a_use_of_a_profile_needs_both_configurations_grants()
    {
        var live = new LiveCallerOptions(Callers());
        var grants = new CallerGrants(live);
        var next = Callers(c => c.Grants["bot-a"] = ["claims"]); // bot-a loses payments
        Assert.True(grants.Allows("bot-a", Profile("payments")));

        live.Narrow(Pending(next, ("payments", []), ("claims", ["bot-a"]), ("billing", [])));

        Assert.False(grants.Allows("bot-a", Profile("payments"))); // its grant revoked
        Assert.True(grants.Allows("bot-a", Profile("claims")));
        Assert.True(grants.Allows("bot-b", Profile("payments")));
        Assert.False(grants.Allows("bot-b", Profile("claims"))); // the profile's AllowedCallers now names bot-a only
        Assert.False(grants.Allows("bot-b", Profile("fraud"))); // a profile the change removes admits no one
    }

    [Fact]
    public void A_change_read_while_another_waits_keeps_narrowing_after_the_first_goes_live()
    {
        var live = new LiveCallerOptions(Callers());
        var first = Callers(c => c.ApiKeys["bot-new"] = new string('f', 64));
        var second = Callers(c => { c.ApiKeys["bot-new"] = new string('f', 64); c.ApiKeys.Remove("bot-b"); });
        live.Narrow(Pending(first, ("payments", [])));
        var later = Pending(second, ("payments", []));
        live.Narrow(later);
        Assert.Equal(["bot-a"], live.Current.ApiKeys.Keys);

        live.Replace(first, [later]); // the first goes live; the second still waits its turn

        Assert.Equal(["bot-a", "bot-new"], live.Current.ApiKeys.Keys.Order()); // what the first added; not what the second revoked
        Assert.Equal([later], live.State.Pending);
    }
}
