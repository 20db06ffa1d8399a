using System.Globalization;
using System.Net;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Functions;

/// <summary>Training runs over HTTP: launch one by hand, list the runs with their state, read one.</summary>
public sealed class TrainingHttpFunctions(TrainingLauncher launcher, TrainingRunStore runs)
{
    /// <summary>The most runs one list answers.</summary>
    public const int MaxListedRuns = 1000;

    /// <summary>
    /// POST /api/runs with a training request (JSON, or base64 of it). 202 Accepted for a new run, 200 OK for a
    /// repeated one, both with the run's URL in Location; 400 Bad Request with every reason for a bad request (recorded
    /// as a Failed run); 409 Conflict when the run id is another request's.
    /// </summary>
    [Function("LaunchTrainingRun")]
    public async Task<HttpResponseData> LaunchAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "runs")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? body = await HttpJson.ReadBodyTextAsync(request.Body, cancellationToken);
        if (body is null)
        {
            return await HttpJson.TooLargeAsync(request, "a training request may be at most 64 KiB", cancellationToken);
        }

        LaunchResult result = await launcher.LaunchAsync(body, TrainingTrigger.Manual, cancellationToken);
        Uri runUrl = HttpJson.ItemUrl(request.Url, result.RunId);
        HttpStatusCode code = result.Outcome switch
        {
            LaunchOutcome.Launched => HttpStatusCode.Accepted,
            LaunchOutcome.Duplicate => HttpStatusCode.OK,
            LaunchOutcome.Conflict => HttpStatusCode.Conflict,
            _ => HttpStatusCode.BadRequest,
        };
        var answer = new LaunchAnswer(result.RunId, result.Outcome, result.Run.State, runUrl, result.Reasons);
        HttpResponseData response = await HttpJson.RespondAsync(request, code, answer, cancellationToken);
        response.Headers.Add("Location", runUrl.AbsoluteUri);
        return response;
    }

    /// <summary>GET /api/runs[?model=NAME][&amp;max=N]: the runs, newest first, with their state (400 for a bad max).</summary>
    [Function("ListTrainingRuns")]
    public async Task<HttpResponseData> ListAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "runs")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? model = request.Query["model"];
        string? maxText = request.Query["max"];
        int max = 100;
        if (maxText is not null && (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max is < 1 or > MaxListedRuns))
        {
            return await HttpJson.RespondAsync(request, HttpStatusCode.BadRequest,
                new { error = $"max must be a whole number from 1 to {MaxListedRuns}; got \"{maxText}\"." }, cancellationToken);
        }

        IReadOnlyList<TrainingRun> list = await runs.ListAsync(string.IsNullOrEmpty(model) ? null : model, max, cancellationToken);
        return await HttpJson.RespondAsync(request, HttpStatusCode.OK, new { runs = list }, cancellationToken);
    }

    /// <summary>GET /api/runs/{id}: the run (state, progress, checkpoint, metrics, promotion, reasons), or 404.</summary>
    [Function("GetTrainingRun")]
    public async Task<HttpResponseData> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "runs/{id}")] HttpRequestData request,
        string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        TrainingRun? run = string.IsNullOrEmpty(id) ? null : await runs.GetAsync(id, cancellationToken);
        return run is null
            ? await HttpJson.RespondAsync(request, HttpStatusCode.NotFound, new { error = $"No training run has the id \"{id}\"." }, cancellationToken)
            : await HttpJson.RespondAsync(request, HttpStatusCode.OK, run, cancellationToken);
    }

    /// <summary>The body of a launch response.</summary>
    /// <param name="RunId">The run id (for a rejection: the id of its Failed record).</param>
    /// <param name="Outcome">launched, duplicate, rejected or conflict.</param>
    /// <param name="State">The run's state.</param>
    /// <param name="RunUrl">Where to GET the run.</param>
    /// <param name="Reasons">Why it was rejected, or what it conflicts with.</param>
    public sealed record LaunchAnswer(string RunId, LaunchOutcome Outcome, TrainingRunState State, Uri RunUrl, IReadOnlyList<string> Reasons);
}
