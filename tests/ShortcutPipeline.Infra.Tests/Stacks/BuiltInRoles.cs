namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// The ids of the Azure built-in roles the stacks grant, by name: Terraform names them, Bicep gives their ids
/// (infra/bicep/modules/settings.bicep). The ids are Azure's own, the same in every tenant.
/// </summary>
public static class BuiltInRoles
{
    private static readonly Dictionary<string, string> Ids = new(StringComparer.Ordinal)
    {
        ["Storage Blob Data Owner"] = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        ["Storage Blob Data Contributor"] = "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        ["Storage Queue Data Contributor"] = "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        ["Storage Table Data Contributor"] = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        ["AcrPull"] = "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    };

    /// <summary>The role definition id (GUID) of a built-in role.</summary>
    public static string IdOf(string roleName) => Ids.TryGetValue(roleName, out string? id)
        ? id
        : throw new InvalidOperationException($"Built-in role '{roleName}': add its id to BuiltInRoles.");

    /// <summary>The name of a built-in role id, for messages.</summary>
    public static string NameOf(string roleId) => Ids.FirstOrDefault(pair => pair.Value == roleId).Key ?? roleId;
}
