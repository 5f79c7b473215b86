using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace OrleansSessions.Bench;

/// <summary>Every option of every scenario; each scenario reads the ones it needs.</summary>
public sealed class BenchSettings : CommandSettings
{
    [CommandOption("--target <URL>")]
    [Description("Public URL of a node (repeatable). whoami load is spread over all of them; revoke-visibility checks each. Default http://127.0.0.1:4433, or the spawned service.")]
    public string[] Targets { get; set; } = [];

    [CommandOption("--admin <URL>")]
    [Description("Admin URL used to seed and revoke. Default http://127.0.0.1:4434, or the spawned service.")]
    public string? Admin { get; set; }

    [CommandOption("--admin-key <KEY>")]
    [Description("Admin API key (Authorization: Bearer), needed outside dev mode. Also read from BENCH_ADMIN_KEY, which keeps it out of ps.")]
    public string? AdminKey { get; set; }

    [CommandOption("--sessions <N>")]
    [Description("Sessions to seed before the load.")]
    [DefaultValue(1000)]
    public int Sessions { get; set; }

    [CommandOption("--sessions-per-identity <N>")]
    [Description("Sessions issued to each identity (N/this identities are created). Default 1, and 10 for revoke-visibility.")]
    public int? SessionsPerIdentity { get; set; }

    [CommandOption("--seed-parallelism <N>")]
    [Description("Admin calls in flight while seeding.")]
    [DefaultValue(16)]
    public int SeedParallelism { get; set; }

    [CommandOption("--concurrency <C>")]
    [Description("Closed loop: requests in flight. Open loop: the most in flight (late requests wait, and their wait counts). scale-out, live-scale-out: per silo.")]
    [DefaultValue(64)]
    public int Concurrency { get; set; }

    [CommandOption("--rate <R>")]
    [Description("Open loop at R requests/s, latency measured from each request's intended send time (coordinated-omission correct). 0: closed loop.")]
    [DefaultValue(0d)]
    public double Rate { get; set; }

    [CommandOption("--duration <TIME>")]
    [Description("Measured time, e.g. 10s, 1m, 500ms.")]
    [DefaultValue("10s")]
    public string Duration { get; set; } = "10s";

    [CommandOption("--warmup <TIME>")]
    [Description("Load before measuring, not recorded.")]
    [DefaultValue("5s")]
    public string Warmup { get; set; } = "5s";

    [CommandOption("--out <DIR>")]
    [Description("Folder for <timestamp>-<scenario>.md/.json (and .png for scale-out). Default bench/results of the repository.")]
    public string? Out { get; set; }

    [CommandOption("--baseline <URL>")]
    [Description("A running Baseline app to seed and measure after the service (whoami, whoami-cookie).")]
    public string? Baseline { get; set; }

    [CommandOption("--spawn-baseline")]
    [Description("Start the Baseline app on a free port, measure it after the service, print both side by side.")]
    public bool SpawnBaseline { get; set; }

    [CommandOption("--baseline-dll <PATH>")]
    [Description("OrleansSessions.Baseline.dll for --spawn-baseline. Default: bench/Baseline/bin/<same configuration as the tool>.")]
    public string? BaselineDll { get; set; }

    [CommandOption("--spawn-service <SILO_DLL>")]
    [Description("Start this OrleansSessions.Silo.dll in dev mode, a fresh SQLite folder, free ports; measure it; stop it. For scale-out: the SILO_DLL handed to the cluster script.")]
    public string? SpawnService { get; set; }

    [CommandOption("--credentials-out <FILE>")]
    [Description("seed: write the seeded credentials here, one per line (mode 0600); nothing else ever writes them.")]
    public string? CredentialsOut { get; set; }

    [CommandOption("--cookie")]
    [Description("seed: browser sessions (the file then holds name=value cookies) instead of token sessions.")]
    public bool Cookies { get; set; }

    [CommandOption("--server-cpus <LIST>")]
    [Description("taskset -c LIST for every process the tool starts (service, baseline, cluster), e.g. 0.")]
    public string? ServerCpus { get; set; }

    [CommandOption("--client-cpus <LIST>")]
    [Description("Pin the tool itself to these CPUs (e.g. 1 or 0-1) through its processor affinity.")]
    public string? ClientCpus { get; set; }

    [CommandOption("--churn-rate <R>")]
    [Description("mixed: session replacements per second (each issues one session and revokes one).")]
    [DefaultValue(10d)]
    public double ChurnRate { get; set; }

    [CommandOption("--revoked-share <P>")]
    [Description("mixed: share of requests sent with a revoked credential (they must answer 401).")]
    [DefaultValue(0.1d)]
    public double RevokedShare { get; set; }

    [CommandOption("--revoke-identities <K>")]
    [Description("revoke-visibility: identities whose sessions are revoked, one after the other, during the measured time.")]
    [DefaultValue(5)]
    public int RevokeIdentities { get; set; }

    [CommandOption("--resident-share <P>")]
    [Description("revoke-visibility: share of each revoked identity's credentials looked up (so held in memory) before its revoke; every one is checked after it.")]
    [DefaultValue(1d)]
    public double ResidentShare { get; set; }

    [CommandOption("--silos <LIST>")]
    [Description("scale-out: silo counts to run, comma separated.")]
    [DefaultValue("1,2,4,8")]
    public string Silos { get; set; } = "1,2,4,8";

    [CommandOption("--modes <LIST>")]
    [Description("scale-out: deploy modes to run, comma separated: cohosted (every node a silo serving HTTP), split (silos + API nodes).")]
    [DefaultValue("cohosted,split")]
    public string Modes { get; set; } = "cohosted,split";

    [CommandOption("--mode <MODE>")]
    [Description("live-scale-out: cohosted or split.")]
    [DefaultValue("cohosted")]
    public string Mode { get; set; } = "cohosted";

    [CommandOption("--silo-cpu-quota <SHARE>")]
    [Description("scale-out, live-scale-out: each silo's (co-hosted node's) CPU cap, a cgroup v1 quota: 10% (of one core), 0.1, or none.")]
    [DefaultValue("10%")]
    public string SiloCpuQuota { get; set; } = "10%";

    [CommandOption("--api-cpu-quota <SHARE>")]
    [Description("split mode: each API node's CPU cap. Default: the silo's.")]
    public string? ApiCpuQuota { get; set; }

    [CommandOption("--pg-cpu-quota <SHARE>")]
    [Description("scale-out, live-scale-out: the CPU cap of the run's PostgreSQL server (all its processes).")]
    [DefaultValue("25%")]
    public string PgCpuQuota { get; set; } = "25%";

    [CommandOption("--cpu-period <TIME>")]
    [Description("cgroup cpu.cfs_period_us: quotas are enforced per period of this length (a capped process waits at most this for its next slice).")]
    [DefaultValue("10ms")]
    public string CpuPeriod { get; set; } = "10ms";

    [CommandOption("--api-nodes <N>")]
    [Description("split mode: API nodes. Default: scale-out one per two silos (at least 1), live-scale-out 2.")]
    public int? ApiNodes { get; set; }

    [CommandOption("--rate-per-silo <R>")]
    [Description("scale-out: after the closed loop, an open loop at R x silos requests/s (0: none). live-scale-out: the steady rate is R x the first step's silos unless --rate is given.")]
    [DefaultValue(0d)]
    public double RatePerSilo { get; set; }

    [CommandOption("--steps <LIST>")]
    [Description("live-scale-out: silo counts in turn, comma separated; silos are added (or the newest ones stopped with SIGTERM) to reach each.")]
    [DefaultValue("2,4,8,4,2")]
    public string Steps { get; set; } = "2,4,8,4,2";

    [CommandOption("--step-time <TIME>")]
    [Description("live-scale-out: how long each step runs once its change (silos joined or gone) is complete.")]
    [DefaultValue("30s")]
    public string StepTime { get; set; } = "30s";

    [CommandOption("--stop-grace <TIME>")]
    [Description("scale-out, live-scale-out: how long a node is given after SIGTERM before it is killed (a killed node is a crash, not a leave).")]
    [DefaultValue("120s")]
    public string StopGrace { get; set; } = "120s";

    [CommandOption("--scrape-interval <TIME>")]
    [Description("live-scale-out: how often every node's /admin/metrics is read (session activations per silo).")]
    [DefaultValue("1s")]
    public string ScrapeInterval { get; set; } = "1s";

    [CommandOption("--cluster-script <PATH>")]
    [Description("split: the script that runs the split pair. Default deploy/local-cluster.sh of the repository.")]
    public string? ClusterScript { get; set; }

    [CommandOption("--rounds <N>")]
    [Description("split: rounds, each measuring the co-hosted node and then the split pair.")]
    [DefaultValue(3)]
    public int Rounds { get; set; }

    [CommandOption("--region <SPEC>")]
    [Description("regions: one region, repeatable, in the deployment's order: NAME=PUBLIC_URL[[,URL...]];admin=ADMIN_URL[[,URL...]][[;code=C]] (quote it: ';' ends a shell command). Default: the three regions of deploy/local-regions.sh.")]
    public string[] Regions { get; set; } = [];

    [CommandOption("--link <SPEC>")]
    [Description("regions: a link's control endpoint, repeatable: FROM-TO=URL (the LinkProxy carrying FROM's connections to TO's database). Default: 6100+10x+y on 127.0.0.1 for regions x, y in --region order, as deploy/local-regions.sh.")]
    public string[] Links { get; set; } = [];

    [CommandOption("--lease <TIME>")]
    [Description("regions: the deployment's regions:lease (deploy/local-regions.sh's LEASE); the cut lasts it plus --cut-extra.")]
    [DefaultValue("30s")]
    public string Lease { get; set; } = "30s";

    [CommandOption("--parts <LIST>")]
    [Description("regions: which parts to run, comma separated: steady (whoami everywhere, and one region alone), first (first lookup away from home), revoke (revocation visibility), cut (a cut link).")]
    [DefaultValue("steady,first,revoke,cut")]
    public string Parts { get; set; } = "steady,first,revoke,cut";

    [CommandOption("--first-lookups <N>")]
    [Description("regions: fresh sessions issued in each region and looked up at once in every region (part first).")]
    [DefaultValue(30)]
    public int FirstLookups { get; set; }

    [CommandOption("--revoke-rounds <N>")]
    [Description("regions: revocation rounds (part revoke); the home region and the region revoking rotate over every pair.")]
    [DefaultValue(27)]
    public int RevokeRounds { get; set; }

    [CommandOption("--region-rate <R>")]
    [Description("regions: open-loop whoami per region, on the seeded sessions of every region, while the revocation rounds run.")]
    [DefaultValue(300d)]
    public double RegionRate { get; set; }

    [CommandOption("--cut <A-B>")]
    [Description("regions: the pair of regions whose links are cut (both directions) in part cut. Default: the first two regions.")]
    public string? Cut { get; set; }

    [CommandOption("--cut-revocations <N>")]
    [Description("regions: sessions of the cut's first region revoked there during the cut.")]
    [DefaultValue(20)]
    public int CutRevocations { get; set; }

    [CommandOption("--cut-extra <TIME>")]
    [Description("regions: how long the cut lasts beyond --lease.")]
    [DefaultValue("10s")]
    public string CutExtra { get; set; } = "10s";

    public TimeSpan DurationTime => ParseTime(Duration);
    public TimeSpan StepTimeSpan => ParseTime(StepTime);
    public TimeSpan StopGraceTime => ParseTime(StopGrace);
    public TimeSpan ScrapeIntervalTime => ParseTime(ScrapeInterval);
    public TimeSpan CpuPeriodTime => ParseTime(CpuPeriod);
    public double? SiloShare => CpuGroups.TryParseShare(SiloCpuQuota, out var share) ? share : null;
    public double? ApiShare => ApiCpuQuota is null ? SiloShare : CpuGroups.TryParseShare(ApiCpuQuota, out var share) ? share : null;
    public double? PgShare => CpuGroups.TryParseShare(PgCpuQuota, out var share) ? share : null;
    /// <summary>Whether any process the tool starts gets a CPU group.</summary>
    public bool UsesCpuGroups => SiloShare is not null || ApiShare is not null || PgShare is not null;

    public static IReadOnlyList<int> ParseCounts(string list) =>
        [.. list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, CultureInfo.InvariantCulture))];

    public static ClusterMode ParseMode(string mode) => mode.Trim().ToLowerInvariant() switch
    {
        "cohosted" or "co-hosted" or "all" => ClusterMode.Cohosted,
        "split" => ClusterMode.Split,
        _ => throw new FormatException($"mode {mode}: use cohosted or split"),
    };
    public TimeSpan WarmupTime => ParseTime(Warmup);
    public TimeSpan LeaseTime => ParseTime(Lease);
    public TimeSpan CutExtraTime => ParseTime(CutExtra);
    public string? EffectiveAdminKey => AdminKey ?? (Environment.GetEnvironmentVariable("BENCH_ADMIN_KEY") is { Length: > 0 } key ? key : null);

    public override ValidationResult Validate()
    {
        if (Sessions < 1) return ValidationResult.Error("--sessions must be at least 1");
        if (SessionsPerIdentity is < 1) return ValidationResult.Error("--sessions-per-identity must be at least 1");
        if (Concurrency < 1) return ValidationResult.Error("--concurrency must be at least 1");
        if (Rounds < 1) return ValidationResult.Error("--rounds must be at least 1");
        if (SeedParallelism < 1) return ValidationResult.Error("--seed-parallelism must be at least 1");
        if (Rate < 0) return ValidationResult.Error("--rate must not be negative");
        if (RevokedShare is < 0 or > 1) return ValidationResult.Error("--revoked-share is between 0 and 1");
        if (ResidentShare is < 0 or > 1) return ValidationResult.Error("--resident-share is between 0 and 1");
        if (!TryParseTime(Duration, out var duration) || duration <= TimeSpan.Zero) return ValidationResult.Error("--duration: use e.g. 10s, 1m, 500ms");
        if (!TryParseTime(Warmup, out _)) return ValidationResult.Error("--warmup: use e.g. 5s, 0s");
        if (Baseline is not null && SpawnBaseline) return ValidationResult.Error("--baseline and --spawn-baseline exclude each other");
        if (SpawnService is not null && !File.Exists(SpawnService)) return ValidationResult.Error($"--spawn-service: {SpawnService} does not exist");
        foreach (var url in Targets.Append(Admin).Append(Baseline))
            if (url is not null && !Uri.TryCreate(url, UriKind.Absolute, out _)) return ValidationResult.Error($"not an absolute URL: {url}");
        if (ClientCpus is not null && !CpuList.TryParse(ClientCpus, out _)) return ValidationResult.Error("--client-cpus: use e.g. 1, 0-1 or 0,1");
        foreach (var (option, value) in new[] { ("--silo-cpu-quota", SiloCpuQuota), ("--api-cpu-quota", ApiCpuQuota), ("--pg-cpu-quota", PgCpuQuota) })
            if (!CpuGroups.TryParseShare(value, out _)) return ValidationResult.Error($"{option}: use e.g. 10%, 0.1 or none");
        if (!TryParseTime(CpuPeriod, out var period) || period < TimeSpan.FromMilliseconds(1) || period > TimeSpan.FromSeconds(1)) return ValidationResult.Error("--cpu-period: between 1ms and 1s");
        if (!TryParseTime(StepTime, out var step) || step <= TimeSpan.Zero) return ValidationResult.Error("--step-time: use e.g. 30s");
        if (!TryParseTime(StopGrace, out var grace) || grace <= TimeSpan.Zero) return ValidationResult.Error("--stop-grace: use e.g. 120s");
        if (!TryParseTime(ScrapeInterval, out var scrape) || scrape < TimeSpan.FromMilliseconds(100)) return ValidationResult.Error("--scrape-interval: at least 100ms");
        foreach (var (option, value) in new[] { ("--silos", Silos), ("--steps", Steps) })
            if (value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is not { Length: > 0 } counts
                || counts.Any(c => !int.TryParse(c, out var n) || n < 1)) return ValidationResult.Error($"{option}: comma separated counts of at least 1");
        foreach (var mode in Modes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Append(Mode))
            if (mode.ToLowerInvariant() is not ("cohosted" or "co-hosted" or "all" or "split")) return ValidationResult.Error($"mode {mode}: use cohosted or split");
        if (ApiNodes is < 1) return ValidationResult.Error("--api-nodes must be at least 1");
        if (RatePerSilo < 0) return ValidationResult.Error("--rate-per-silo must not be negative");
        if (!TryParseTime(Lease, out var lease) || lease <= TimeSpan.Zero) return ValidationResult.Error("--lease: use e.g. 30s");
        if (!TryParseTime(CutExtra, out _)) return ValidationResult.Error("--cut-extra: use e.g. 10s");
        if (FirstLookups < 1) return ValidationResult.Error("--first-lookups must be at least 1");
        if (RevokeRounds < 1) return ValidationResult.Error("--revoke-rounds must be at least 1");
        if (CutRevocations < 1) return ValidationResult.Error("--cut-revocations must be at least 1");
        if (RegionRate <= 0) return ValidationResult.Error("--region-rate must be positive");
        if (!RegionPartsList.TryParse(Parts, out _, out var partsError)) return ValidationResult.Error($"--parts: {partsError}");
        try
        {
            var regions = RegionSpec.ParseAll(Regions);
            LinkSpec.ParseAll(Links, regions);
            if (Cut is not null) RegionSpec.ParsePair(Cut, regions);
        }
        catch (FormatException exception)
        {
            return ValidationResult.Error(exception.Message);
        }
        return ValidationResult.Success();
    }

    /// <summary>Go-like durations: 500ms, 10s, 2m, 1h; a bare number is seconds.</summary>
    public static bool TryParseTime(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        (string number, double scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1),
            _ when text.EndsWith('m') => (text[..^1], 60),
            _ when text.EndsWith('h') => (text[..^1], 3600),
            _ => (text, 1),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0) return false;
        value = TimeSpan.FromSeconds(amount * scale);
        return true;
    }

    private static TimeSpan ParseTime(string text) =>
        TryParseTime(text, out var value) ? value : throw new FormatException($"not a duration: {text}");
}

/// <summary>A taskset-style CPU list (0, 0-1, 0,2) as an affinity mask.</summary>
public static class CpuList
{
    public static bool TryParse(string text, out long mask)
    {
        mask = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = part.Split('-');
            if (!int.TryParse(bounds[0], out var first) || first is < 0 or > 62) return false;
            var last = first;
            if (bounds.Length == 2 && (!int.TryParse(bounds[1], out last) || last < first || last > 62)) return false;
            if (bounds.Length > 2) return false;
            for (var cpu = first; cpu <= last; cpu++) mask |= 1L << cpu;
        }
        return mask != 0;
    }
}
