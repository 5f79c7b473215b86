using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Session listings through <see cref="ISessionCatalogGrain"/>: the admin keyset listing (created_at descending,
/// then id ascending, with a cursor) and one identity's sessions by offset. Each test has a cluster of its own,
/// so that the store holds only its sessions.
/// </summary>
public sealed class SessionListingTests : IAsyncLifetime
{
    /// <summary>More pages than any walk here needs: a cursor that does not move on fails instead of looping.</summary>
    private const int MaxPages = 500;

    private SessionCluster _harness = null!;

    private IGrainFactory SiloA => _harness.Grains(0);

    private IGrainFactory SiloB => _harness.Grains(1);

    private DateTimeOffset Now => _harness.Clock.GetUtcNow();

    public async Task InitializeAsync() => _harness = await StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    /// <summary>
    /// Sessions issued at three instants, several at each (so that ties on created_at are broken by id), walked a
    /// page at a time through alternating silos: exactly Kratos's order, each session once, the last page short.
    /// </summary>
    [Fact]
    public async Task Keyset_listing_is_newest_first_then_by_id_and_the_cursor_walks_every_session_once()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = new List<SessionRecord>();
        for (var instant = 0; instant < 3; instant++)
        {
            for (var i = 0; i < 5; i++)
                issued.Add((await IssueAsync(_harness.Grains(i % 2), identity.Id, SessionChannel.Api)).Session);
            _harness.Clock.Advance(TimeSpan.FromSeconds(1));
        }
        var expected = KratosOrder(issued).Select(s => s.Id).ToList();
        Assert.Equal(3, issued.Select(s => s.CreatedAt).Distinct().Count());

        var all = await SiloA.GetGrain<ISessionCatalogGrain>(0).ListAsync(new SessionListQuery { PageSize = 100, Now = Now });
        Assert.Equal(expected, all.Select(v => v.Session.Id));
        // Without expand=identity, no identity.
        Assert.All(all, v => Assert.Null(v.Identity));

        var walked = await WalkAsync(pageSize: 4, ActiveFilter.All);
        Assert.Equal(expected, walked.SelectMany(page => page).Select(s => s.Id));
        Assert.Equal([4, 4, 4, 3], walked.Select(page => page.Count));
    }

    /// <summary>expand=identity: every session comes with its own identity.</summary>
    [Fact]
    public async Task Listing_with_identity_includes_each_sessions_identity()
    {
        var first = await CreateIdentityAsync(SiloA);
        var second = await CreateIdentityAsync(SiloB);
        await IssueAsync(SiloA, first.Id, SessionChannel.Api);
        await IssueAsync(SiloB, second.Id, SessionChannel.Browser);
        await IssueAsync(SiloB, first.Id, SessionChannel.Browser);

        var page = await SiloB.GetGrain<ISessionCatalogGrain>(0).ListAsync(new SessionListQuery { PageSize = 10, WithIdentity = true, Now = Now });

        Assert.Equal(3, page.Length);
        Assert.All(page, v => Assert.Equal(v.Session.IdentityId, v.Identity!.Id));
        var byId = new Dictionary<Guid, IdentityRecord> { [first.Id] = first, [second.Id] = second };
        Assert.All(page, v => Assert.Equal(byId[v.Session.IdentityId], v.Identity));
    }

    /// <summary>The active filter: active means neither revoked nor expired; inactive is the rest; all is both.</summary>
    [Fact]
    public async Task Active_filter_separates_revoked_and_expired_sessions_from_active_ones()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var active = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var revoked = await IssueAsync(SiloB, identity.Id, SessionChannel.Api);
        var expired = await IssueAsync(SiloA, identity.Id, SessionChannel.Browser, TimeSpan.FromMinutes(10));
        Assert.True(await SiloB.GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        _harness.Clock.Advance(TimeSpan.FromMinutes(10));

        async Task<HashSet<Guid>> ListedAsync(ActiveFilter filter) =>
            [.. (await SiloB.GetGrain<ISessionCatalogGrain>(0).ListAsync(new SessionListQuery { PageSize = 10, Active = filter, Now = Now }))
                .Select(v => v.Session.Id)];

        Assert.Equal([active.Session.Id], await ListedAsync(ActiveFilter.Active));
        Assert.Equal([revoked.Session.Id, expired.Session.Id], await ListedAsync(ActiveFilter.Inactive));
        Assert.Equal([active.Session.Id, revoked.Session.Id, expired.Session.Id], await ListedAsync(ActiveFilter.All));

        // Expired is judged at the query's now: a moment before expiry it was active.
        var before = await SiloA.GetGrain<ISessionCatalogGrain>(0).ListAsync(new SessionListQuery
        {
            PageSize = 10, Active = ActiveFilter.Active, Now = expired.Session.ExpiresAt.AddTicks(-10),
        });
        Assert.Equal([active.Session.Id, expired.Session.Id], before.Select(v => v.Session.Id).ToHashSet());
    }

    /// <summary>
    /// Walking the listing page by page while new sessions are being issued all the time, through both silos, at
    /// the same instant as the existing ones (so they sort among them, before and after the cursor): every
    /// session that existed before the walk is listed exactly once, and no session at all twice.
    /// </summary>
    [Fact]
    public async Task Walking_pages_while_sessions_are_created_never_skips_or_repeats_one()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var existing = new List<SessionRecord>();
        for (var instant = 0; instant < 2; instant++)
        {
            if (instant > 0)
                _harness.Clock.Advance(TimeSpan.FromSeconds(1));
            for (var i = 0; i < 30; i++)
                existing.Add((await IssueAsync(_harness.Grains(i % 2), identity.Id, SessionChannel.Api)).Session);
        }
        // From here the clock stands still: every new session ties with the newest existing ones on created_at.
        using var stop = new CancellationTokenSource();
        var created = 0;
        var firstCreated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task IssueUntilStoppedAsync(IGrainFactory grains)
        {
            while (!stop.IsCancellationRequested)
            {
                await IssueAsync(grains, identity.Id, SessionChannel.Browser);
                Interlocked.Increment(ref created);
                firstCreated.TrySetResult();
            }
        }

        var issuers = new[] { IssueUntilStoppedAsync(SiloA), IssueUntilStoppedAsync(SiloB) };
        await firstCreated.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var pages = new List<IReadOnlyList<SessionRecord>>();
        try
        {
            SessionCursor? cursor = null;
            do
            {
                // Between pages, a few more on top of the background issuers, so that every page boundary sees inserts.
                for (var i = 0; i < 3; i++)
                    await IssueAsync(_harness.Grains(pages.Count % 2), identity.Id, SessionChannel.Browser);
                var page = await _harness.Grains(pages.Count % 2).GetGrain<ISessionCatalogGrain>(0)
                    .ListAsync(new SessionListQuery { PageSize = 7, After = cursor, Now = Now });
                pages.Add([.. page.Select(v => v.Session)]);
                Assert.True(pages.Count <= MaxPages, "The walk does not end.");
                cursor = page.IsEmpty ? null : new SessionCursor { CreatedAt = page[^1].Session.CreatedAt, Id = page[^1].Session.Id };
            }
            while (cursor is not null);
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(issuers);
        }

        var walked = pages.SelectMany(page => page).ToList();
        Assert.True(created > 0);
        Assert.Equal(walked.Count, walked.Select(s => s.Id).Distinct().Count());
        var walkedIds = walked.Select(s => s.Id).ToHashSet();
        Assert.All(existing, s => Assert.Contains(s.Id, walkedIds));
        // And the walk is in order throughout, across pages.
        Assert.Equal(KratosOrder(walked).Select(s => s.Id), walked.Select(s => s.Id));
        // Sessions created during the walk did land among the existing ones (the case an offset would get wrong).
        Assert.True(walked.Count > existing.Count);
    }

    /// <summary>One identity's sessions by offset and limit, newest first, with the total, the active filter and Except.</summary>
    [Fact]
    public async Task Identity_listing_pages_by_offset_with_total_and_leaves_out_the_excepted_session()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var other = await CreateIdentityAsync(SiloB);
        var sessions = new List<IssuedSession>();
        for (var i = 0; i < 5; i++)
        {
            sessions.Add(await IssueAsync(_harness.Grains(i % 2), identity.Id, SessionChannel.Api, TimeSpan.FromHours(i == 1 ? 1 : 24)));
            await IssueAsync(SiloB, other.Id, SessionChannel.Api);
            _harness.Clock.Advance(TimeSpan.FromSeconds(1));
        }
        var newestFirst = KratosOrder(sessions.Select(s => s.Session)).Select(s => s.Id).ToList();
        Assert.Equal(sessions.Select(s => s.Session.Id).Reverse(), newestFirst);
        var catalog = SiloB.GetGrain<ISessionCatalogGrain>(0);

        Task<SessionPage> PageAsync(int offset, int limit, ActiveFilter active = ActiveFilter.All, Guid? except = null) =>
            catalog.ListForIdentityAsync(new IdentitySessionsQuery
            {
                IdentityId = identity.Id, Offset = offset, Limit = limit, Active = active, Except = except, Now = Now,
            });

        var pages = new[] { await PageAsync(0, 2), await PageAsync(2, 2), await PageAsync(4, 2), await PageAsync(6, 2) };
        Assert.All(pages, p => Assert.Equal(5, p.Total));
        Assert.Equal(newestFirst, pages.SelectMany(p => p.Sessions).Select(v => v.Session.Id));
        Assert.Equal([2, 2, 1, 0], pages.Select(p => p.Sessions.Length));
        Assert.All(pages.SelectMany(p => p.Sessions), v => Assert.Equal(identity.Id, v.Identity!.Id));

        var except = sessions[2].Session.Id;
        var withoutOne = await PageAsync(0, 10, except: except);
        Assert.Equal(4, withoutOne.Total);
        Assert.Equal(newestFirst.Where(id => id != except), withoutOne.Sessions.Select(v => v.Session.Id));
        var secondPage = await PageAsync(2, 2, except: except);
        Assert.Equal(4, secondPage.Total);
        Assert.Equal(newestFirst.Where(id => id != except).Skip(2), secondPage.Sessions.Select(v => v.Session.Id));

        // Revoke one, let the 1 h one expire: the filters and totals follow.
        Assert.True(await SiloA.GetGrain<ISessionGrain>(sessions[3].LookupKey).RevokeAsync());
        _harness.Clock.Advance(TimeSpan.FromHours(2));
        var active = await PageAsync(0, 10, ActiveFilter.Active);
        Assert.Equal(3, active.Total);
        Assert.Equal(newestFirst.Where(id => id != sessions[1].Session.Id && id != sessions[3].Session.Id), active.Sessions.Select(v => v.Session.Id));
        var inactive = await PageAsync(0, 10, ActiveFilter.Inactive);
        Assert.Equal(2, inactive.Total);
        Assert.Equal([sessions[3].Session.Id, sessions[1].Session.Id], inactive.Sessions.Select(v => v.Session.Id));
        var activeExcept = await PageAsync(1, 1, ActiveFilter.Active, except: sessions[4].Session.Id);
        Assert.Equal(2, activeExcept.Total);
        Assert.Equal([sessions[0].Session.Id], activeExcept.Sessions.Select(v => v.Session.Id));

        // An identity with no sessions: an empty page and a total of 0.
        var none = await catalog.ListForIdentityAsync(new IdentitySessionsQuery { IdentityId = Guid.NewGuid(), Offset = 0, Limit = 10, Now = Now });
        Assert.Equal(0, none.Total);
        Assert.Empty(none.Sessions);
    }

    /// <summary>Walks the keyset listing to its end; returns the pages.</summary>
    private async Task<List<IReadOnlyList<SessionRecord>>> WalkAsync(int pageSize, ActiveFilter active)
    {
        var pages = new List<IReadOnlyList<SessionRecord>>();
        SessionCursor? cursor = null;
        while (true)
        {
            var page = await _harness.Grains(pages.Count % 2).GetGrain<ISessionCatalogGrain>(0)
                .ListAsync(new SessionListQuery { PageSize = pageSize, After = cursor, Active = active, Now = Now });
            if (page.IsEmpty)
                return pages;
            pages.Add([.. page.Select(v => v.Session)]);
            Assert.True(pages.Count <= MaxPages, "The walk does not end.");
            cursor = new SessionCursor { CreatedAt = page[^1].Session.CreatedAt, Id = page[^1].Session.Id };
        }
    }

    /// <summary>Kratos's order: created_at descending, then id ascending as the store compares it (its text, ordinally).</summary>
    private static IEnumerable<SessionRecord> KratosOrder(IEnumerable<SessionRecord> sessions) =>
        sessions.OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id.ToString(), StringComparer.Ordinal);
}
