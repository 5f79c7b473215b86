using System.Buffers;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Tests.Unit;

/// <summary>
/// The key ring decides by time alone which key signs, which keys are published and when a new one is due;
/// <see cref="ClaimPath"/> copies a template's claims out of the session JSON.
/// </summary>
public sealed class SigningKeyRingTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2030, 3, 4, 5, 6, 7, TimeSpan.Zero);
    private static readonly TimeSpan LeadTime = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan Interval = TimeSpan.FromDays(30);
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(1);

    private static readonly TokenTemplate Es = new() { Name = "es", Algorithm = TokenizerSettings.Es256, Ttl = TimeSpan.FromMinutes(2) };
    private static readonly TokenTemplate EsLong = new() { Name = "es-long", Algorithm = TokenizerSettings.Es256, Ttl = TimeSpan.FromHours(1) };
    private static readonly TokenTemplate Rs = new() { Name = "rs", Algorithm = TokenizerSettings.Rs256, Ttl = TimeSpan.FromHours(5) };

    /// <summary>A template with its own key set: its (longer) ttl must not keep generated ES256 keys published.</summary>
    private static readonly TokenTemplate Partner = new() { Name = "partner", Algorithm = TokenizerSettings.Es256, Ttl = TimeSpan.FromHours(10), KeySet = """{"keys":[]}""" };

    private static readonly TokenizerSettings Settings = new()
    {
        Templates = ImmutableDictionary.CreateRange(StringComparer.Ordinal,
            new[] { Es, EsLong, Rs, Partner }.Select(t => KeyValuePair.Create(t.Name, t))),
        RotationLeadTime = LeadTime,
        RotationInterval = Interval,
        ClockSkew = Skew,
    };

    private readonly List<SigningKey> _keys = [];

    public void Dispose()
    {
        foreach (var key in _keys)
            key.Dispose();
    }

    private SigningKey NewKey(string algorithm)
    {
        var key = SigningKey.Generate(algorithm);
        _keys.Add(key);
        return key;
    }

    private static SigningKeyRing Ring(IEnumerable<KeyRingEntry> generated, ImmutableDictionary<string, ImmutableArray<SigningKey>>? configured = null) =>
        new(generated, configured ?? ImmutableDictionary<string, ImmutableArray<SigningKey>>.Empty, Settings);

    // ---- SignerFor ----------------------------------------------------------------------------------------------

    [Fact]
    public void The_signer_is_the_latest_activated_key_of_the_templates_algorithm()
    {
        var first = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var next = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0.AddDays(29), T0.AddDays(29) + LeadTime);
        var rsa = new KeyRingEntry(NewKey(TokenizerSettings.Rs256), T0, SigningKeyRing.FirstKeyActivation);
        // Given in any order: the ring orders by activation.
        var ring = Ring([next, rsa, first]);

        Assert.Same(first.Key, ring.SignerFor(Es, T0));
        Assert.Same(first.Key, ring.SignerFor(Es, next.ActivatesAt.AddTicks(-1)));
        Assert.Same(next.Key, ring.SignerFor(Es, next.ActivatesAt));
        Assert.Same(next.Key, ring.SignerFor(EsLong, next.ActivatesAt.AddDays(400)));
        Assert.Same(rsa.Key, ring.SignerFor(Rs, next.ActivatesAt));
    }

    [Fact]
    public void No_key_signs_before_the_first_activation_or_for_an_algorithm_without_keys()
    {
        var pending = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, T0 + LeadTime);
        var ring = Ring([pending]);

        Assert.Null(ring.SignerFor(Es, T0 + LeadTime - TimeSpan.FromTicks(1)));
        Assert.Same(pending.Key, ring.SignerFor(Es, T0 + LeadTime));
        Assert.Null(ring.SignerFor(Rs, T0.AddYears(1)));
    }

    [Fact]
    public void A_template_with_a_key_set_signs_with_the_first_key_of_its_set_never_a_generated_one()
    {
        var generated = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var (own, spare) = (NewKey(TokenizerSettings.Es256), NewKey(TokenizerSettings.Es256));
        var ring = Ring([generated], ImmutableDictionary<string, ImmutableArray<SigningKey>>.Empty.Add(Partner.Name, [own, spare]));

        Assert.Same(own, ring.SignerFor(Partner, T0));
        Assert.Same(generated.Key, ring.SignerFor(Es, T0));
        // Without its set in the ring, the template has no signer (not a generated key of its algorithm).
        Assert.Null(Ring([generated]).SignerFor(Partner, T0));
    }

    // ---- Published / UnpublishedAt ----------------------------------------------------------------------------

    [Fact]
    public void A_replaced_key_stays_published_for_the_longest_ttl_of_its_algorithm_plus_the_skew()
    {
        var old = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var successor = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0.AddDays(30), T0.AddDays(30) + LeadTime);
        var rsa = new KeyRingEntry(NewKey(TokenizerSettings.Rs256), T0, SigningKeyRing.FirstKeyActivation);
        var configured = NewKey(TokenizerSettings.Es256);
        var ring = Ring([old, successor, rsa], ImmutableDictionary<string, ImmutableArray<SigningKey>>.Empty.Add(Partner.Name, [configured]));

        // es-long's hour, not es's two minutes, not RS256's five hours, not the key set template's ten.
        var retired = successor.ActivatesAt + TimeSpan.FromHours(1) + Skew;
        Assert.Equal(retired, ring.UnpublishedAt(old));
        Assert.Null(ring.UnpublishedAt(successor));
        Assert.Null(ring.UnpublishedAt(rsa));

        Assert.Equal(Kids(old, successor, rsa).Append(configured.Kid).Order(StringComparer.Ordinal), PublishedKids(ring, retired - TimeSpan.FromTicks(1)));
        Assert.Equal(Kids(successor, rsa).Append(configured.Kid).Order(StringComparer.Ordinal), PublishedKids(ring, retired));
        // Published from its creation on, before it signs.
        Assert.Contains(successor.Key, ring.Published(successor.CreatedAt));
    }

    [Fact]
    public void The_public_key_set_holds_the_published_keys_without_private_parts()
    {
        var ec = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var rsa = new KeyRingEntry(NewKey(TokenizerSettings.Rs256), T0, SigningKeyRing.FirstKeyActivation);
        var ed = new KeyRingEntry(NewKey(TokenizerSettings.EdDsa), T0, SigningKeyRing.FirstKeyActivation);

        var keys = JsonDocument.Parse(Ring([ec, rsa, ed]).RenderPublicKeySet(T0)).RootElement.GetProperty("keys").EnumerateArray().ToList();

        Assert.Equal(Kids(ec, rsa, ed).Order(StringComparer.Ordinal), keys.Select(k => k.GetProperty("kid").GetString()!).Order(StringComparer.Ordinal));
        foreach (var key in keys)
        {
            Assert.Equal("sig", key.GetProperty("use").GetString());
            Assert.All(new[] { "d", "p", "q", "dp", "dq", "qi" }, secret => Assert.False(key.TryGetProperty(secret, out _), $"{key} has {secret}"));
        }
    }

    // ---- DueActivation ----------------------------------------------------------------------------------------

    [Fact]
    public void The_first_key_of_an_algorithm_is_due_at_once_and_signs_from_the_epoch()
    {
        var rsa = new KeyRingEntry(NewKey(TokenizerSettings.Rs256), T0, SigningKeyRing.FirstKeyActivation);

        Assert.Equal(SigningKeyRing.FirstKeyActivation, Ring([]).DueActivation(TokenizerSettings.Es256, T0));
        Assert.Equal(SigningKeyRing.FirstKeyActivation, Ring([rsa]).DueActivation(TokenizerSettings.Es256, T0));
        Assert.Null(Ring([rsa]).DueActivation(TokenizerSettings.Rs256, T0));
    }

    [Fact]
    public void A_replacement_is_due_a_lead_time_before_the_interval_since_the_first_key_was_created_is_over()
    {
        var first = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var ring = Ring([first]);
        var onTime = T0 + Interval - LeadTime;

        Assert.Null(ring.DueActivation(TokenizerSettings.Es256, onTime - TimeSpan.FromSeconds(1)));
        Assert.Equal(T0 + Interval, ring.DueActivation(TokenizerSettings.Es256, onTime));
        // Checked late, the replacement still gets its full lead time.
        var late = T0 + Interval + TimeSpan.FromHours(3);
        Assert.Equal(late + LeadTime, ring.DueActivation(TokenizerSettings.Es256, late));
    }

    [Fact]
    public void A_pending_replacement_is_not_replaced_and_its_own_successor_is_due_an_interval_after_it_activates()
    {
        var first = new KeyRingEntry(NewKey(TokenizerSettings.Es256), T0, SigningKeyRing.FirstKeyActivation);
        var created = T0 + Interval - LeadTime;
        var pending = new KeyRingEntry(NewKey(TokenizerSettings.Es256), created, created + LeadTime);
        var ring = Ring([first, pending]);

        Assert.Null(ring.DueActivation(TokenizerSettings.Es256, created));
        Assert.Null(ring.DueActivation(TokenizerSettings.Es256, pending.ActivatesAt));
        Assert.Null(ring.DueActivation(TokenizerSettings.Es256, pending.ActivatesAt + Interval - LeadTime - TimeSpan.FromSeconds(1)));
        Assert.Equal(pending.ActivatesAt + Interval, ring.DueActivation(TokenizerSettings.Es256, pending.ActivatesAt + Interval - LeadTime));
    }

    // ---- ClaimPath --------------------------------------------------------------------------------------------

    private const string Session = """
        {
          "id": "s-1",
          "active": true,
          "authenticator_assurance_level": "aal2",
          "authentication_methods": [
            { "method": "password", "aal": "aal1" },
            { "method": "totp", "aal": "aal2" },
            { "aal": "aal1" }
          ],
          "identity": {
            "traits": { "email": "ada@example.test", "name": { "first": "Ada" }, "phone": null },
            "metadata_public": null
          }
        }
        """;

    [Fact]
    public void A_claim_path_reads_nested_members_as_they_are()
    {
        var claims = Claims(("email", "identity.traits.email"), ("first", "identity.traits.name.first"),
            ("name", "identity.traits.name"), ("aal", "authenticator_assurance_level"), ("active", "active"));

        Assert.Equal("ada@example.test", claims.GetProperty("email").GetString());
        Assert.Equal("Ada", claims.GetProperty("first").GetString());
        Assert.Equal(JsonValueKind.Object, claims.GetProperty("name").ValueKind);
        Assert.Equal("Ada", claims.GetProperty("name").GetProperty("first").GetString());
        Assert.Equal("aal2", claims.GetProperty("aal").GetString());
        Assert.True(claims.GetProperty("active").GetBoolean());
    }

    [Fact]
    public void A_claim_path_through_an_array_projects_each_element_that_has_the_rest()
    {
        var claims = Claims(("amr", "authentication_methods.method"), ("levels", "authentication_methods.aal"));

        Assert.Equal(["password", "totp"], claims.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(["aal1", "aal2", "aal1"], claims.GetProperty("levels").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public void A_claim_path_that_leads_nowhere_leaves_the_claim_out()
    {
        var claims = Claims(("missing", "identity.traits.nothing_here"), ("null_leaf", "identity.traits.phone"),
            ("through_null", "identity.metadata_public.plan"), ("through_scalar", "identity.traits.email.domain"),
            ("through_array", "authentication_methods.typo"), ("email", "identity.traits.email"));

        Assert.Equal(["email"], claims.EnumerateObject().Select(p => p.Name));
    }

    /// <summary>The claims object a template with <paramref name="mapping"/> gets from <see cref="Session"/>.</summary>
    private static JsonElement Claims(params (string Claim, string Path)[] mapping)
    {
        using var session = JsonDocument.Parse(Session);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (claim, path) in mapping)
                ClaimPath.WriteIfPresent(w, claim, session.RootElement, path);
            w.WriteEndObject();
        }
        return JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone();
    }

    private static IEnumerable<string> Kids(params KeyRingEntry[] entries) => entries.Select(e => e.Key.Kid);

    private static IEnumerable<string> PublishedKids(SigningKeyRing ring, DateTimeOffset now) => ring.Published(now).Select(k => k.Kid).Order(StringComparer.Ordinal);
}
