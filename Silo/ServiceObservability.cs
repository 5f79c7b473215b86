using Orleans.Dashboard;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansSessions.Api.Surfaces;
using OrleansSessions.Telemetry;

namespace OrleansSessions.Silo;

/// <summary>
/// <c>telemetry:*</c>: OpenTelemetry metrics (ours, Orleans', ASP.NET Core's, the runtime's) scraped by Prometheus
/// on the admin port and, with an OTLP endpoint, exported with traces (ASP.NET Core, Orleans calls propagated
/// between silos and clients, store calls). <c>orleans:dashboard</c>: the Orleans Dashboard on the admin port.
/// Both sit behind the admin key like every admin route.
/// </summary>
public sealed class ObservabilitySettings
{
    public string ServiceName { get; init; } = "orleans-sessions";

    /// <summary><c>telemetry:otlp:endpoint</c> (or the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>): traces and metrics go there.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary><c>telemetry:otlp:protocol</c>: <c>grpc</c> (default) or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; init; } = "grpc";

    /// <summary><c>telemetry:prometheus</c>: the scrape endpoint <c>/admin/metrics</c> (default on).</summary>
    public bool Prometheus { get; init; } = true;

    /// <summary>
    /// <c>orleans:dashboard</c>: the Orleans Dashboard at <c>/admin/dashboard</c>. Off by default: its per-call
    /// profiling and per-second collection took whoami's p99 at one connection from 0.28 ms to 1.7 ms (bench/README.md).
    /// </summary>
    public bool Dashboard { get; init; }

    public bool Tracing => OtlpEndpoint is not null;

    public static ObservabilitySettings Read(IConfiguration configuration)
    {
        var endpoint = configuration["telemetry:otlp:endpoint"] is { Length: > 0 } e ? e : Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        return new ObservabilitySettings
        {
            ServiceName = configuration["telemetry:service_name"] is { Length: > 0 } name ? name : "orleans-sessions",
            OtlpEndpoint = endpoint is { Length: > 0 } ? new Uri(endpoint) : null,
            OtlpProtocol = configuration["telemetry:otlp:protocol"] is { Length: > 0 } p ? p : "grpc",
            Prometheus = configuration.GetValue("telemetry:prometheus", true),
            Dashboard = configuration.GetValue("orleans:dashboard", false),
        };
    }
}

public static class ServiceObservability
{
    /// <summary>Orleans instruments recorded once per message sent or received over a connection (not exported).</summary>
    public static readonly IReadOnlyList<string> PerMessageInstruments = ["orleans-messaging-sent-messages-size", "orleans-messaging-received-messages-size"];

    public static void AddObservability(WebApplicationBuilder builder, ObservabilitySettings settings, NodeRole role)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(settings.ServiceName, serviceInstanceId: $"{Environment.MachineName}/{Environment.ProcessId}")
                .AddAttributes([new("orleans_sessions.role", role.ToString().ToLowerInvariant())]));
        otel.WithMetrics(metrics =>
        {
            metrics.AddMeter(ServiceTelemetry.Name, "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime");
            // Orleans records a size histogram, with tags it renders from enums each time, for every message that crosses a
            // connection: four per whoami through an API node (client send, gateway receive, gateway send, client receive),
            // none in a co-hosted node, whose whoami grain call stays in the process. Not listening to them leaves them off.
            foreach (var perMessage in PerMessageInstruments)
                metrics.AddView(perMessage, MetricStreamConfiguration.Drop);
            if (settings.Prometheus)
                metrics.AddPrometheusExporter();
            if (settings.OtlpEndpoint is not null)
                metrics.AddOtlpExporter(o => Configure(o, settings));
        });
        // No exporter, no tracing: without a listener no activity is created on the whoami path.
        if (settings.Tracing)
        {
            otel.WithTracing(tracing => tracing
                .AddSource(ServiceTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health"))
                .AddOtlpExporter(o => Configure(o, settings)));
        }
    }

    /// <summary>The admin routes of observability (the admin key guard in front of them is the API's).</summary>
    public static void MapObservability(WebApplication app, ObservabilitySettings settings, NodeRole role)
    {
        if (settings.Prometheus)
            app.MapPrometheusScrapingEndpoint("/admin/metrics").OnSurface(ApiSurface.Admin);
        if (settings.Dashboard && role.ServesApi())
            app.MapOrleansDashboard("/admin/dashboard").OnSurface(ApiSurface.Admin);
    }

    public static void AddToSilo(ISiloBuilder silo, ObservabilitySettings settings)
    {
        if (settings.Tracing)
            silo.AddActivityPropagation();
        if (settings.Dashboard)
            silo.AddDashboard();
    }

    public static void AddToClient(IClientBuilder client, ObservabilitySettings settings)
    {
        if (settings.Tracing)
            client.AddActivityPropagation();
        if (settings.Dashboard)
            client.AddDashboard();
    }

    private static void Configure(OtlpExporterOptions options, ObservabilitySettings settings)
    {
        options.Endpoint = settings.OtlpEndpoint!;
        options.Protocol = settings.OtlpProtocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
    }
}
