using System.Net;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using ShortcutPipeline.Contracts;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Functions;

/// <summary>
/// The HTTP face of the pipeline: submit a job (the same intake as the queue), read its status, cancel it, and the
/// JSON Schemas of the job and training request contracts.
/// </summary>
public sealed class JobHttpFunctions(JobIntake intake, JobStatusService status)
{
    /// <summary>The largest request body read (beyond it: 413, nothing recorded). Bodies above the job size limit but below this are rejected by the intake, which records them.</summary>
    public const int MaxBodyBytes = HttpJson.MaxBodyBytes;

    /// <summary>
    /// POST /api/jobs with a job (JSON, or base64 of it). 202 Accepted for a new job, 200 OK for a repeated
    /// one, both with the status URL in Location and the body; 400 Bad Request with every reason for an
    /// invalid one (recorded like a queued rejection); 413 for bodies over <see cref="MaxBodyBytes"/>.
    /// </summary>
    [Function("SubmitJob")]
    public async Task<HttpResponseData> SubmitAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "jobs")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        byte[]? body = await HttpJson.ReadBodyAsync(request.Body, cancellationToken);
        if (body is null)
        {
            return await HttpJson.TooLargeAsync(request, "a job message may be at most 64 KiB", cancellationToken);
        }

        // The invocation id names a job that has no id of its own: every POST without an id is a new job.
        IntakeResult result = await intake.SubmitAsync(body, request.FunctionContext.InvocationId, cancellationToken);
        Uri statusUrl = HttpJson.ItemUrl(request.Url, result.JobId);
        HttpStatusCode code = result.Outcome switch
        {
            IntakeOutcome.Accepted => HttpStatusCode.Accepted,
            IntakeOutcome.Duplicate => HttpStatusCode.OK,
            _ => HttpStatusCode.BadRequest,
        };
        var answer = new SubmitAnswer(result.JobId, result.Outcome, result.State, statusUrl, result.Reasons);
        HttpResponseData response = await HttpJson.RespondAsync(request, code, answer, cancellationToken);
        response.Headers.Add("Location", statusUrl.AbsoluteUri);
        return response;
    }

    /// <summary>GET /api/jobs/{id}: the job's status (state, progress, image links, reasons), or 404.</summary>
    [Function("GetJob")]
    public async Task<HttpResponseData> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "jobs/{id}")] HttpRequestData request,
        string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        JobStatus? job = await status.GetAsync(id, cancellationToken);
        return job is null
            ? await NotFoundAsync(request, id, cancellationToken)
            : await HttpJson.RespondAsync(request, HttpStatusCode.OK, job, cancellationToken);
    }

    /// <summary>POST /api/jobs/{id}/cancel: 200 with the status when cancelled, 409 when it had finished, 404 when unknown.</summary>
    [Function("CancelJob")]
    public Task<HttpResponseData> CancelAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "jobs/{id}/cancel")] HttpRequestData request,
        string id, CancellationToken cancellationToken) =>
        CancelJobAsync(request, id, cancellationToken);

    /// <summary>DELETE /api/jobs/{id}: the same as POST /api/jobs/{id}/cancel.</summary>
    [Function("DeleteJob")]
    public Task<HttpResponseData> DeleteAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "jobs/{id}")] HttpRequestData request,
        string id, CancellationToken cancellationToken) =>
        CancelJobAsync(request, id, cancellationToken);

    private async Task<HttpResponseData> CancelJobAsync(HttpRequestData request, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        CancelResult result = await status.CancelAsync(id, cancellationToken);
        return result.Outcome switch
        {
            CancelOutcome.Cancelled => await HttpJson.RespondAsync(request, HttpStatusCode.OK, result.Status!, cancellationToken),
            CancelOutcome.AlreadyFinished => await HttpJson.RespondAsync(request, HttpStatusCode.Conflict, result.Status!, cancellationToken),
            _ => await NotFoundAsync(request, id, cancellationToken),
        };
    }

    /// <summary>
    /// GET /api/schema: the JSON Schema of a generation job (the contract the intake checks); GET
    /// /api/schema/training-request: that of a training request (the contract the launcher and the trainer check). For
    /// clients to validate against before they send; no key needed. Another name: 404.
    /// </summary>
    [Function("GetSchema")]
    public static async Task<HttpResponseData> GetSchemaAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "schema/{name?}")] HttpRequestData request,
        string? name,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? schema = name switch
        {
            null or "" or "generation-job" => GenerationJobSchema.Text,
            "training-request" => TrainingRequestSchema.Text,
            _ => null,
        };
        if (schema is null)
        {
            return await HttpJson.RespondAsync(request, HttpStatusCode.NotFound,
                new { error = "The schemas are /api/schema (a generation job) and /api/schema/training-request." }, cancellationToken);
        }

        HttpResponseData response = request.CreateResponse(HttpStatusCode.OK);
        response.Headers.Add("Content-Type", "application/schema+json; charset=utf-8");
        await response.WriteStringAsync(schema, cancellationToken, System.Text.Encoding.UTF8);
        return response;
    }

    private static Task<HttpResponseData> NotFoundAsync(HttpRequestData request, string id, CancellationToken cancellationToken) =>
        HttpJson.RespondAsync(request, HttpStatusCode.NotFound, new { error = $"No job has the id \"{id}\"." }, cancellationToken);

    /// <summary>The body of a submit response.</summary>
    /// <param name="Id">The job id (for a rejection: the id its record has).</param>
    /// <param name="Outcome">accepted, duplicate or rejected.</param>
    /// <param name="State">The job's state.</param>
    /// <param name="StatusUrl">Where to GET its status.</param>
    /// <param name="Reasons">Why it was rejected.</param>
    public sealed record SubmitAnswer(string Id, IntakeOutcome Outcome, JobState State, Uri StatusUrl, IReadOnlyList<string> Reasons);
}
