using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Azure.Functions.Worker.Http;
using ShortcutPipeline.Core;

namespace ShortcutPipeline.Functions;

/// <summary>Reading request bodies and writing JSON responses, for every HTTP function.</summary>
internal static class HttpJson
{
    /// <summary>The largest request body read (beyond it: 413, nothing recorded).</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>A response with <paramref name="body"/> as JSON (<see cref="PipelineJson.Options"/>).</summary>
    public static async Task<HttpResponseData> RespondAsync<T>(
        HttpRequestData request, HttpStatusCode code, T body, CancellationToken cancellationToken)
    {
        HttpResponseData response = request.CreateResponse(code);
        response.Headers.Add("Content-Type", "application/json; charset=utf-8");
        await response.WriteStringAsync(JsonSerializer.Serialize(body, PipelineJson.Options), cancellationToken, Encoding.UTF8);
        return response;
    }

    /// <summary>413 for a body over <see cref="MaxBodyBytes"/>.</summary>
    public static Task<HttpResponseData> TooLargeAsync(HttpRequestData request, string what, CancellationToken cancellationToken) =>
        RespondAsync(request, HttpStatusCode.RequestEntityTooLarge,
            new { error = $"The request body is over {MaxBodyBytes} bytes; {what}." }, cancellationToken);

    /// <summary>The body as UTF-8 text (bytes that are not UTF-8 read as U+FFFD); null when it is over <see cref="MaxBodyBytes"/>.</summary>
    public static async Task<string?> ReadBodyTextAsync(Stream body, CancellationToken cancellationToken)
    {
        byte[]? bytes = await ReadBodyAsync(body, cancellationToken);
        return bytes is null ? null : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>The body's bytes; null when it is over <see cref="MaxBodyBytes"/>.</summary>
    public static async Task<byte[]?> ReadBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>{base}/{id} beside the collection URL of the request, whatever the host's route prefix is.</summary>
    public static Uri ItemUrl(Uri requestUrl, string id)
    {
        string path = requestUrl.GetLeftPart(UriPartial.Path).TrimEnd('/');
        return new Uri(path + "/" + Uri.EscapeDataString(id));
    }
}
