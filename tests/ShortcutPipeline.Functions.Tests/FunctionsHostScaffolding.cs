using System.Net;
using System.Security.Claims;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ShortcutPipeline.Functions.Tests;

// No Functions host runs here, so the tests hand the functions what the host would: a FunctionContext and
// HTTP request/response objects. These are plain concrete types of the worker's abstract classes (test
// scaffolding for the host); storage behind the functions is the real Azurite.

/// <summary>The context of one invocation.</summary>
internal sealed class TestFunctionContext : FunctionContext
{
    public override string InvocationId { get; } = Guid.NewGuid().ToString();

    public override string FunctionId { get; } = "test";

    public override IServiceProvider InstanceServices { get; set; } = new ServiceCollection().BuildServiceProvider();

    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();

    public override TraceContext TraceContext => throw new NotSupportedException("Not used by the functions under test.");

    public override BindingContext BindingContext => throw new NotSupportedException("Not used by the functions under test.");

    public override RetryContext RetryContext => throw new NotSupportedException("Not used by the functions under test.");

    public override FunctionDefinition FunctionDefinition => throw new NotSupportedException("Not used by the functions under test.");

    public override IInvocationFeatures Features => throw new NotSupportedException("Not used by the functions under test.");
}

/// <summary>An HTTP request as the host would pass it: its body as bytes (any bytes), or as text in UTF-8.</summary>
internal sealed class TestHttpRequestData(string method, Uri url, byte[] body) : HttpRequestData(new TestFunctionContext())
{
    public TestHttpRequestData(string method, Uri url, string? body = null)
        : this(method, url, body is null ? [] : System.Text.Encoding.UTF8.GetBytes(body))
    {
    }

    public override Stream Body { get; } = new MemoryStream(body);

    public override HttpHeadersCollection Headers { get; } = [];

    public override IReadOnlyCollection<IHttpCookie> Cookies { get; } = [];

    public override Uri Url { get; } = url;

    public override IEnumerable<ClaimsIdentity> Identities { get; } = [];

    public override string Method { get; } = method;

    public override HttpResponseData CreateResponse() => new TestHttpResponseData(FunctionContext);
}

/// <summary>The response a function builds.</summary>
internal sealed class TestHttpResponseData(FunctionContext context) : HttpResponseData(context)
{
    public override HttpStatusCode StatusCode { get; set; } = HttpStatusCode.OK;

    public override HttpHeadersCollection Headers { get; set; } = [];

    public override Stream Body { get; set; } = new MemoryStream();

    public override HttpCookies Cookies { get; } = new TestHttpCookies();

    public string ReadBody()
    {
        Body.Position = 0;
        using var reader = new StreamReader(Body, leaveOpen: true);
        return reader.ReadToEnd();
    }

    private sealed class TestHttpCookies : HttpCookies
    {
        private readonly List<IHttpCookie> cookies = [];

        public override void Append(string name, string value) => cookies.Add(new HttpCookie(name, value));

        public override void Append(IHttpCookie cookie) => cookies.Add(cookie);

        public override IHttpCookie CreateNew() => new HttpCookie("", "");
    }
}
