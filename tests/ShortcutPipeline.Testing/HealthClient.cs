using System.Globalization;
using System.Net;
using System.Text.Json;
using ShortcutPipeline.Core.Health;

namespace ShortcutPipeline.Testing;

/// <summary>Asks an app's health endpoints over real HTTP, as a container platform's probes do.</summary>
public sealed class HealthClient : IDisposable
{
    private readonly HttpClient http;

    /// <summary>A client of the endpoints on loopback port <paramref name="port"/>.</summary>
    public HealthClient(int port) => http = new HttpClient
    {
        BaseAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/")),
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>GET <paramref name="path"/>: the status code and the body (empty when there is none).</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using HttpResponseMessage response = await http.GetAsync(path.TrimStart('/')).ConfigureAwait(false);
        return (response.StatusCode, await response.Content.ReadAsStringAsync().ConfigureAwait(false));
    }

    /// <summary>GET <see cref="HealthOptions.ReadyPath"/>, or null while nothing answers on the port (the app is starting).</summary>
    public async Task<(HttpStatusCode Status, string Body)?> TryGetReadyAsync()
    {
        try
        {
            return await GetAsync(HealthOptions.ReadyPath).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// Polls <see cref="HealthOptions.ReadyPath"/> until it answers <paramref name="status"/> with a body that satisfies
    /// <paramref name="until"/> (when given), within <paramref name="timeout"/>, and returns that body, parsed. A timeout's
    /// message ends with <paramref name="appOutput"/> (what the app printed), when given.
    /// </summary>
    public async Task<JsonElement> WaitForReadinessAsync(
        HttpStatusCode status, TimeSpan timeout, Func<JsonElement, bool>? until = null, Func<string>? appOutput = null)
    {
        (HttpStatusCode Status, string Body)? last = null;
        JsonElement body = default;
        await Wait.UntilAsync(async () =>
            {
                last = await TryGetReadyAsync().ConfigureAwait(false);
                if (last?.Status != status)
                {
                    return false;
                }

                using JsonDocument document = JsonDocument.Parse(last.Value.Body);
                body = document.RootElement.Clone();
                return until?.Invoke(body) ?? true;
            },
            timeout,
            () => Task.FromResult($"{HealthOptions.ReadyPath} to answer {(int)status}; the last answer: {(last is { } answer ? $"{(int)answer.Status} {answer.Body}" : "none")}"
                + (appOutput is null ? "" : $"\nThe app's output:\n{appOutput()}")))
            .ConfigureAwait(false);
        return body;
    }

    /// <summary>The detail of the readiness check named <paramref name="name"/> in a readiness body.</summary>
    public static string Detail(JsonElement readiness, string name) => Check(readiness, name).GetProperty("detail").GetString() ?? "";

    /// <summary>The readiness check named <paramref name="name"/> in a readiness body.</summary>
    public static JsonElement Check(JsonElement readiness, string name) =>
        readiness.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == name);

    /// <summary>Disposes the HTTP client.</summary>
    public void Dispose() => http.Dispose();
}
