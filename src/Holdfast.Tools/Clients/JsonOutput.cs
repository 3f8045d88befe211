using System.Text.Encodings.Web;
using System.Text.Json;

namespace Holdfast.Tools.Clients;

/// <summary>JSON as a person and jq both read it: topics and payloads keep their characters (no \u002B for '+').</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
