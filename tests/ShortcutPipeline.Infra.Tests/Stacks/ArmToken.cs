namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// A value that Resource Manager knows only at deployment (an endpoint, a client id, a resource id), written the
/// same way for both stacks so that their values can be compared: ⟨type.path⟩ for the one resource of its type in
/// the stack, ⟨type[name].path⟩ where the stack has several. Bicep's snapshot writes reference('id', ...).path
/// and resource ids; Terraform writes resource_type.name[key].attribute; both become tokens.
/// </summary>
public static class ArmToken
{
    private const char Open = '⟨';
    private const char Close = '⟩';

    /// <summary>The token of <paramref name="path"/> (id, name, primaryEndpoints.blob, clientId…) of a resource.</summary>
    /// <param name="armType">Its Resource Manager type.</param>
    /// <param name="name">Its name; left out when <paramref name="single"/>, since the stacks name single resources differently (uniqueString, sha256).</param>
    /// <param name="single">Whether it is the only resource of its type in the stack.</param>
    /// <param name="path">The property path, as Resource Manager's reference() names it.</param>
    public static string Of(string armType, string name, bool single, string path) =>
        single ? $"{Open}{armType}.{path}{Close}" : $"{Open}{armType}[{name}].{path}{Close}";

    /// <summary>A value this comparison cannot read (an unknown function, an attribute with no Resource Manager name).</summary>
    public static string Opaque(string text) => $"{Open}?{text}{Close}";

    /// <summary>Whether a string holds a token.</summary>
    public static bool Contains(string text) => text.Contains(Open, StringComparison.Ordinal);

    /// <summary>(type, name) of a resource id such as /subscriptions/…/providers/Microsoft.Web/sites/func-x/basicPublishingCredentialsPolicies/scm.</summary>
    public static (string Type, string Name)? ParseResourceId(string id)
    {
        int providers = id.LastIndexOf("/providers/", StringComparison.OrdinalIgnoreCase);
        if (!id.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase) || providers < 0)
        {
            return null;
        }
        string[] parts = id[(providers + "/providers/".Length)..].Split('/');
        if (parts.Length < 3 || parts.Length % 2 == 0)
        {
            return null;
        }
        var types = new List<string> { parts[0] };
        var names = new List<string>();
        for (int i = 1; i < parts.Length; i += 2)
        {
            types.Add(parts[i]);
            names.Add(parts[i + 1]);
        }
        return (string.Join('/', types), string.Join('/', names));
    }
}
