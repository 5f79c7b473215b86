using System.Data.Common;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Storage;

namespace OrleansSessions.Api.Tests;

/// <summary><c>/health/ready</c> answers 503 in the envelope while the store does not answer, and 200 again after.</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task Ready_is_503_while_the_store_does_not_answer_and_200_after()
    {
        var probe = new SwitchableProbe();
        var node = await ServiceNode.StartAsync(new NodeOptions
        {
            ConfigureServices = services => services.Replace(ServiceDescriptor.Singleton<IStoreProbe>(probe)),
        });
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/health/ready"))).Status);

            probe.Down = true;
            foreach (var url in new[] { node.Public("/health/ready"), node.Admin("/health/ready") })
            {
                var answer = await node.SendForAnswerAsync(HttpMethod.Get, url);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
                Assert.Equal("The store does not answer.", answer.Json.GetProperty("error").GetProperty("reason").GetString());
            }
            Assert.Equal(HttpStatusCode.OK, (await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/health/alive"))).Status);

            probe.Down = false;
            Assert.Equal(HttpStatusCode.OK, (await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/health/ready"))).Status);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>A store probe the test can take down; the real store cannot be made to fail on demand here.</summary>
    private sealed class SwitchableProbe : IStoreProbe
    {
        public volatile bool Down;

        public Task ProbeAsync(CancellationToken ct = default) =>
            Down ? Task.FromException(new StoreDownException()) : Task.CompletedTask;
    }

    private sealed class StoreDownException() : DbException("store down");
}
