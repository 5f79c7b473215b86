namespace OrleansSessions.Tests.Unit;

/// <summary>The rules of a held session on their own: which change wins, what is told while loading, what whoami answers.</summary>
public sealed class HeldSessionTests
{
    private static readonly DateTimeOffset T0 = new(2030, 6, 7, 8, 0, 0, TimeSpan.Zero);

    private static readonly IdentityRecord Identity = new()
    {
        Id = Guid.Parse("7f8f4d6a-1b2c-4d3e-8f90-a1b2c3d4e5f6"),
        SchemaId = "default",
        State = IdentityRecord.StateActive,
        Traits = """{"email":"ada@example.test"}""",
        CreatedAt = T0,
        UpdatedAt = T0,
        Version = 3,
    };

    private static readonly SessionRecord Session = new()
    {
        Id = Guid.Parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        IdentityId = Identity.Id,
        Channel = SessionChannel.Browser,
        Revoked = false,
        Aal = AuthenticatorAssurance.Aal1,
        AuthenticationMethods = [],
        Devices = [],
        IssuedAt = T0,
        AuthenticatedAt = T0,
        ExpiresAt = T0.AddHours(1),
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static IdentityRecord Disabled(long version) =>
        Identity with { State = IdentityRecord.StateInactive, Version = version };

    private static HeldSession Started()
    {
        var held = new HeldSession();
        held.Start(Session, Identity);
        return held;
    }

    [Fact]
    public void A_started_session_is_active()
    {
        var held = Started();

        Assert.Equal(SessionVerdict.Active, held.Judge(SessionChannel.Browser, T0.AddMinutes(1), requireHighestAal: false));
        Assert.True(held.IsActiveAt(T0.AddMinutes(1)));
    }

    [Fact]
    public void Nothing_held_is_unknown()
    {
        var held = new HeldSession();
        held.Load(stored: null, identity: null);

        Assert.Null(held.Session);
        Assert.Equal(SessionVerdict.Unknown, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void The_other_carrier_is_refused_and_expiry_is_expired()
    {
        var held = Started();

        Assert.Equal(SessionVerdict.Refused, held.Judge(SessionChannel.Api, T0, requireHighestAal: false));
        Assert.Equal(SessionVerdict.Expired, held.Judge(SessionChannel.Browser, Session.ExpiresAt, requireHighestAal: false));
    }

    [Fact]
    public void Below_the_available_aal_is_aal2_required_only_when_asked()
    {
        var held = new HeldSession();
        held.Start(Session, Identity with { AvailableAal = AuthenticatorAssurance.Aal2 });

        Assert.Equal(SessionVerdict.Aal2Required, held.Judge(SessionChannel.Browser, T0, requireHighestAal: true));
        Assert.Equal(SessionVerdict.Active, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    private static IdentityRecord Marked(long version, SessionRevocation mark) => Identity with { Version = version, Sessions = mark };

    [Fact]
    public void A_newer_identity_is_held_and_an_older_one_is_ignored()
    {
        var held = Started();

        Assert.True(held.IdentityChanged(Disabled(version: 4)));
        Assert.Equal(SessionVerdict.Refused, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));

        held.IdentityChanged(Identity with { Version = 2 });
        Assert.Equal(4, held.Identity!.Version);
        Assert.False(held.IsActiveAt(T0));
    }

    [Fact]
    public void A_copy_of_the_same_version_is_kept_and_changes_nothing()
    {
        var held = Started();
        var version = held.Version;
        var copy = Identity with { };

        Assert.True(held.IdentityChanged(copy));

        Assert.Same(copy, held.Identity); // so the sessions of a silo share the silo's copy
        Assert.Equal(version, held.Version); // nothing to render again
        Assert.Equal(SessionVerdict.Active, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void A_change_for_nothing_held_is_not_applied()
    {
        var held = new HeldSession();

        Assert.False(held.IdentityChanged(Disabled(version: 4)));
        Assert.Null(held.Session);
    }

    [Fact]
    public void A_deleted_identity_leaves_nothing_held()
    {
        var held = Started();

        held.IdentityChanged(null);

        Assert.Null(held.Session);
        Assert.Equal(SessionVerdict.Unknown, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void A_load_with_the_identity_deleted_holds_nothing()
    {
        var held = new HeldSession();

        held.Load(Session, identity: null);

        Assert.Null(held.Session);
    }

    [Fact]
    public void A_revocation_mark_up_to_the_issuance_revokes_the_session()
    {
        var held = Started();

        held.IdentityChanged(Marked(4, SessionRevocation.None.RevokingUpTo(Session.IssuedAt, except: null)));

        Assert.True(held.IsRevoked);
        Assert.Equal(SessionVerdict.Refused, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void A_revocation_mark_before_the_issuance_leaves_the_session_active()
    {
        var held = Started();

        held.IdentityChanged(Marked(4, SessionRevocation.None.RevokingUpTo(Session.IssuedAt.AddTicks(-10), except: null)));

        Assert.False(held.IsRevoked);
        Assert.Equal(SessionVerdict.Active, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void The_session_a_mark_excepts_stays_active()
    {
        var held = Started();

        held.IdentityChanged(Marked(4, SessionRevocation.None.RevokingUpTo(T0.AddMinutes(5), except: Session)));

        Assert.Equal(SessionVerdict.Active, held.Judge(SessionChannel.Browser, T0, requireHighestAal: false));
    }

    [Fact]
    public void A_later_mark_does_not_bring_back_a_session_an_earlier_one_revoked()
    {
        var first = SessionRevocation.None.RevokingUpTo(T0.AddMinutes(5), except: null);

        var second = first.RevokingUpTo(T0.AddMinutes(10), except: Session);

        Assert.Null(second.RevokedExcept);
        Assert.True(second.Revokes(Session));
    }

    [Fact]
    public void A_delete_all_mark_leaves_nothing_held_and_a_load_under_it_holds_nothing()
    {
        var mark = SessionRevocation.None.DeletingUpTo(Session.IssuedAt);
        var held = Started();

        held.IdentityChanged(Marked(4, mark));
        Assert.Null(held.Session);

        var loaded = new HeldSession();
        loaded.Load(Session, Marked(4, mark));
        Assert.Null(loaded.Session);
    }

    [Fact]
    public void A_mark_survives_an_extend_written_after_it()
    {
        var held = Started();
        held.IdentityChanged(Marked(4, SessionRevocation.None.RevokingUpTo(Session.IssuedAt, except: null)));

        Assert.True(held.Written(Session with { ExpiresAt = T0.AddHours(2) }));

        Assert.True(held.IsRevoked);
        Assert.False(held.IsActiveAt(T0));
    }

    [Fact]
    public void A_revocation_survives_an_extend_written_before_it()
    {
        var held = Started();
        held.Written(Session with { Revoked = true }); // a revoke, while the extend below was being written

        Assert.True(held.Written(Session with { ExpiresAt = T0.AddHours(2) }));

        Assert.True(held.Session!.Revoked);
        Assert.Equal(T0.AddHours(2), held.Session.ExpiresAt);
    }

    [Fact]
    public void A_write_after_a_deletion_holds_nothing()
    {
        var held = Started();

        held.IdentityChanged(null);

        Assert.False(held.Written(Session with { ExpiresAt = T0.AddHours(2) }));
        Assert.Null(held.Session);
    }

    [Fact]
    public void What_the_store_says_after_a_refused_write_is_held_and_a_held_revocation_stays()
    {
        var held = Started();
        held.Written(Session with { Revoked = true });

        held.FoundInStore(Session); // the row as read again says not revoked (an older read)
        Assert.True(held.Session!.Revoked);

        held.FoundInStore(null);
        Assert.Null(held.Session);
    }

    /// <summary>A change another region made to the row is held; a revocation from there revokes here.</summary>
    [Fact]
    public void A_row_changed_elsewhere_is_held_and_its_revocation_revokes()
    {
        var held = Started();
        var extended = Session with { ExpiresAt = T0.AddHours(5), UpdatedAt = T0.AddMinutes(1) };

        Assert.True(held.StoredChanged(extended));
        Assert.Equal(T0.AddHours(5), held.Session!.ExpiresAt);
        Assert.True(held.StoredChanged(extended with { Revoked = true, UpdatedAt = T0.AddMinutes(2) }));
        Assert.Equal(SessionVerdict.Refused, held.Judge(SessionChannel.Browser, T0.AddMinutes(3), requireHighestAal: false));
    }

    /// <summary>
    /// What has not replicated here yet changes nothing: no row (the session was read from its home region), or a row
    /// older than what this region wrote into the home's database; a revocation applies whatever its age, and is never undone.
    /// </summary>
    [Fact]
    public void A_row_not_here_yet_or_older_changes_nothing_and_a_revocation_is_never_undone()
    {
        var held = Started();
        held.Written(Session with { ExpiresAt = T0.AddHours(3), UpdatedAt = T0.AddMinutes(5) });
        var version = held.Version;

        Assert.False(held.StoredChanged(null));
        Assert.False(held.StoredChanged(Session with { ExpiresAt = T0.AddHours(2), UpdatedAt = T0.AddMinutes(4) }));
        Assert.Equal(T0.AddHours(3), held.Session!.ExpiresAt);
        Assert.Equal(version, held.Version);

        Assert.True(held.StoredChanged(Session with { Revoked = true, UpdatedAt = T0.AddMinutes(1) }));
        Assert.True(held.IsRevoked);
        held.StoredChanged(Session with { UpdatedAt = T0.AddMinutes(9) });
        Assert.True(held.IsRevoked);
        Assert.False(new HeldSession().StoredChanged(Session));
    }

    [Fact]
    public void Only_an_unrevoked_session_near_its_expiry_is_due_for_extension()
    {
        var held = Started();
        var window = TimeSpan.FromMinutes(10);

        Assert.False(held.IsDueForExtension(T0, window));
        Assert.True(held.IsDueForExtension(Session.ExpiresAt - TimeSpan.FromMinutes(5), window));

        held.IdentityChanged(Marked(4, SessionRevocation.None.RevokingUpTo(Session.IssuedAt, except: null)));
        Assert.False(held.IsDueForExtension(Session.ExpiresAt - TimeSpan.FromMinutes(5), window));
    }

    [Fact]
    public void Every_change_of_what_is_held_moves_the_version()
    {
        var held = Started();
        var before = held.Version;

        held.IdentityChanged(Identity with { Version = 4 });
        var afterIdentity = held.Version;
        held.Written(Session with { Revoked = true });

        Assert.True(afterIdentity > before);
        Assert.True(held.Version > afterIdentity);
    }
}
