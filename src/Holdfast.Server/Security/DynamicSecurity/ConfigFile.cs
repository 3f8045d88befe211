using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Storage.RocksDb;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// The dynamic security JSON file (plugin_opt_config_file), in Mosquitto's format: what `mosquitto_ctrl dynsec init`
/// writes and Mosquitto's plugin saves. Read as Mosquitto reads it: an entry it cannot use (a client without a user
/// name, a password that does not decode, a link to a role that does not exist) is skipped, not an error.
/// </summary>
internal static class ConfigFile
{
    /// <summary>Reads the file. Throws <see cref="InvalidDataException"/> when it is not JSON or not shaped as one, and
    /// the file system's exception when it cannot be read. An empty file is an empty config, as in Mosquitto.</summary>
    public static DynsecConfig Load(string path) => Parse(File.ReadAllBytes(path));

    /// <inheritdoc cref="Load"/>
    public static DynsecConfig Parse(byte[] bytes)
    {
        var config = new DynsecConfig();
        if (bytes.Length == 0) return config;
        var tree = JsonRead.Parse(bytes) as JsonObject ?? throw new InvalidDataException("not valid JSON");
        LoadDefaultAccess(tree, config);
        LoadRoles(tree, config);
        LoadClients(tree, config);
        LoadGroups(tree, config);
        return config;
    }

    private static JsonArray? ArrayMember(JsonObject tree, string name) => Member(tree, name) switch
    {
        null => null,
        JsonArray array => array,
        _ => throw new InvalidDataException($"'{name}' is not an array"),
    };

    private static void LoadDefaultAccess(JsonObject tree, DynsecConfig config)
    {
        if (Member(tree, "defaultACLAccess") is not JsonObject access) return;
        foreach (var name in DefaultAccess.Names) config.DefaultAccess[name] = OptionalBool(access, name, false);
    }

    private static void LoadRoles(JsonObject tree, DynsecConfig config)
    {
        foreach (var item in ArrayMember(tree, "roles") ?? [])
        {
            if (item is not JsonObject j || String(Member(j, "rolename")) is not { } name || config.Roles.ContainsKey(name)) continue;
            var role = new DynsecRole(name) { TextName = String(Member(j, "textname")), TextDescription = String(Member(j, "textdescription")) };
            if (Member(j, "acls") is JsonArray acls) role.ReplaceAcls(ReadAcls(acls));
            config.Roles.Add(name, role);
        }
    }

    /// <summary>A role's "acls" array (also createRole's and modifyRole's): entries of unknown type or without a topic
    /// are skipped; priority defaults to 0 and allow to false.</summary>
    public static Dictionary<AclType, List<DynsecAcl>> ReadAcls(JsonArray acls)
    {
        var result = DynsecRole.NoAcls();
        foreach (var type in AclTypeNames.All)
            foreach (var item in acls)
            {
                if (String(Member(item, "acltype")) is not { } typeName || AclTypeNames.Parse(typeName) != type) continue;
                if (String(Member(item, "topic")) is not { } topic) continue;
                DynsecRole.Insert(result[type], new DynsecAcl(topic, OptionalInt(item, "priority", 0), OptionalBool(item, "allow", false)));
            }
        return result;
    }

    private static void LoadClients(JsonObject tree, DynsecConfig config)
    {
        foreach (var item in ArrayMember(tree, "clients") ?? [])
        {
            if (item is not JsonObject j || String(Member(j, "username")) is not { } userName || config.Clients.ContainsKey(userName)) continue;
            var client = new DynsecClient(userName)
            {
                Disabled = OptionalBool(j, "disabled", false),
                ClientId = String(Member(j, "clientid")),
                TextName = String(Member(j, "textname")),
                TextDescription = String(Member(j, "textdescription")),
            };
            if (String(Member(j, "salt")) is { } salt && String(Member(j, "password")) is { } password && Member(j, "iterations") is { } iterations
                && IsNumber(iterations))
            {
                // A password that cannot be used drops the whole client, as in Mosquitto.
                if (Int(iterations) < 1 || Base64(salt, PasswordHash.SaltLength) is not { } saltBytes
                    || Base64(password, PasswordHash.HashLength) is not { } hash) continue;
                client.Password = new PasswordHash(hash, saltBytes, Int(iterations));
            }
            foreach (var link in ReadLinks(j, "roles", "rolename"))
                if (config.Roles.ContainsKey(link.Name) && !Link.Contains(client.Roles, link.Name)) Link.Insert(client.Roles, link);
            config.Clients.Add(userName, client);
        }
    }

    private static void LoadGroups(JsonObject tree, DynsecConfig config)
    {
        foreach (var item in ArrayMember(tree, "groups") ?? [])
        {
            if (item is not JsonObject j || String(Member(j, "groupname")) is not { } name || config.Groups.ContainsKey(name)) continue;
            var group = new DynsecGroup(name) { TextName = String(Member(j, "textname")), TextDescription = String(Member(j, "textdescription")) };
            foreach (var link in ReadLinks(j, "roles", "rolename"))
                if (config.Roles.ContainsKey(link.Name) && !Link.Contains(group.Roles, link.Name)) Link.Insert(group.Roles, link);
            config.Groups.Add(name, group);
            foreach (var link in ReadLinks(j, "clients", "username"))
                if (config.Clients.TryGetValue(link.Name, out var client)) DynsecConfig.AddGroupClient(group, client, link.Priority);
        }
        if (String(Member(tree, "anonymousGroup")) is { } anonymous && config.Groups.ContainsKey(anonymous)) config.AnonymousGroup = anonymous;
    }

    /// <summary>Links such as [{"rolename": "r", "priority": 3}]; entries without a name are skipped, priority defaults to -1.</summary>
    public static IEnumerable<Link> ReadLinks(JsonNode? owner, string member, string nameMember)
    {
        if (Member(owner, member) is not JsonArray links) yield break;
        foreach (var item in links)
            if (item is JsonObject j && String(Member(j, nameMember)) is { } name)
                yield return new Link(name, OptionalInt(j, "priority", -1));
    }

    private static byte[]? Base64(string text, int length)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out int written) && written == length ? buffer[..length] : null;
    }

    /// <summary>Writes the file as Mosquitto's plugin does (a new file beside it, renamed over it), and, as Holdfast
    /// promises durability, fsyncs the new file before the rename and the directory after: a crash leaves the old file
    /// or the new one, whole.</summary>
    public static void Save(DynsecConfig config, string path) => Write(Serialize(config), path);

    /// <inheritdoc cref="Save"/>
    public static void Write(byte[] contents, string path)
    {
        string temporary = path + ".new";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        DirectorySync.Fsync(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    public static byte[] Serialize(DynsecConfig config)
    {
        var tree = new JsonObject
        {
            ["defaultACLAccess"] = new JsonObject(DefaultAccess.Names.Select(n => KeyValuePair.Create(n, (JsonNode?)config.DefaultAccess[n]))),
            ["clients"] = new JsonArray([.. config.Clients.Values.Select(c => DynsecJson.Client(c, forFile: true))]),
            ["groups"] = new JsonArray([.. config.Groups.Values.Select(g => DynsecJson.Group(g, forFile: true))]),
        };
        if (config.AnonymousGroup is { } anonymous) tree["anonymousGroup"] = anonymous;
        tree["roles"] = new JsonArray([.. config.Roles.Values.Select(DynsecJson.Role)]);
        return Encoding.UTF8.GetBytes(tree.ToJsonString(Indented) + "\n");
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
