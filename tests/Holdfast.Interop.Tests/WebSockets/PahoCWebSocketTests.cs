using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.WebSockets;

/// <summary>The Paho C library (Debian's libpaho-mqtt-dev, the synchronous MQTTClient API) over WebSockets against a
/// Holdfast websockets listener. Its WebSocket reader takes one MQTT packet per WebSocket message; when the broker packed
/// a flush's packets into one message, it stalled at the first PUBACK.</summary>
public sealed class PahoCWebSocketTests
{
    private const string Packages = "libpaho-mqtt-dev gcc";

    private const string Driver = """
        /* Paho C (synchronous MQTTClient) over a WebSocket: subscribe, publish COUNT QoS 1 messages, receive them all. */
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <MQTTClient.h>

        int main(int argc, char **argv)
        {
            if (argc != 4) { fprintf(stderr, "usage: driver URI TOPIC COUNT\n"); return 2; }
            const char *uri = argv[1], *topic = argv[2];
            int count = atoi(argv[3]);
            MQTTClient client;
            MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
            opts.keepAliveInterval = 30;
            opts.cleansession = 1;
            int rc = MQTTClient_create(&client, uri, "pahoc-ws", MQTTCLIENT_PERSISTENCE_NONE, NULL);
            if (rc != MQTTCLIENT_SUCCESS) { printf("create %d\n", rc); return 1; }
            if ((rc = MQTTClient_connect(client, &opts)) != MQTTCLIENT_SUCCESS) { printf("connect %d\n", rc); return 1; }
            if ((rc = MQTTClient_subscribe(client, topic, 1)) != MQTTCLIENT_SUCCESS) { printf("subscribe %d\n", rc); return 1; }
            for (int i = 0; i < count; i++)
            {
                char payload[32];
                int length = snprintf(payload, sizeof payload, "m%d", i);
                MQTTClient_deliveryToken token;
                if ((rc = MQTTClient_publish(client, topic, length, payload, 1, 0, &token)) != MQTTCLIENT_SUCCESS) { printf("publish %d: %d\n", i, rc); return 1; }
                if ((rc = MQTTClient_waitForCompletion(client, token, 10000)) != MQTTCLIENT_SUCCESS) { printf("puback %d: %d\n", i, rc); return 1; }
            }
            int received = 0;
            while (received < count)
            {
                char *name = NULL;
                int nameLength = 0;
                MQTTClient_message *message = NULL;
                rc = MQTTClient_receive(client, &name, &nameLength, &message, 10000);
                if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) { printf("receive %d after %d\n", rc, received); break; }
                if (message == NULL) { printf("timeout after %d\n", received); break; }
                printf("%.*s\n", message->payloadlen, (char *)message->payload);
                received++;
                MQTTClient_freeMessage(&message);
                MQTTClient_free(name);
            }
            MQTTClient_disconnect(client, 1000);
            MQTTClient_destroy(&client);
            printf("received %d of %d\n", received, count);
            return received == count ? 0 : 1;
        }
        """;

    [SkippableFact]
    public async Task Paho_c_subscribes_publishes_and_receives_over_a_websocket()
    {
        DebianTool.Require("cc", Packages);
        if (!File.Exists("/usr/include/MQTTClient.h")) DebianTool.Unavailable($"the Paho C headers are not installed (apt-get install -y {Packages})");
        using var scratch = new TempDirectory();
        string source = Path.Combine(scratch.Path, "driver.c"), driver = Path.Combine(scratch.Path, "driver");
        await File.WriteAllTextAsync(source, Driver);
        var build = await ProcessRunner.RunAsync("cc", ["-o", driver, source, "-lpaho-mqtt3c"], TimeSpan.FromSeconds(120));
        Assert.True(build.ExitCode == 0, $"building the Paho C driver failed:\n{build.Stdout}{build.Stderr}");

        await using var broker = await TestBroker.StartAsync(listenerText: "protocol websockets");
        const int count = 50;
        var run = await ProcessRunner.RunAsync(driver, [$"ws://127.0.0.1:{broker.Port}/mqtt", "pahoc/t", count.ToString()], TimeSpan.FromSeconds(120));
        Assert.True(run.ExitCode == 0, $"Paho C over WebSockets ({run.ExitCode}):\n{run.Stdout}{run.Stderr}");
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}").Append($"received {count} of {count}"), lines);
    }
}
