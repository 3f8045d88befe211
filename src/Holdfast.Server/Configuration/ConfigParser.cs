namespace Holdfast.Server.Configuration;

/// <summary>
/// Reads Mosquitto-syntax config files: <c>key value...</c> lines, <c>#</c> comments, <c>listener</c> blocks and
/// <c>include_dir</c>. Any line Holdfast cannot honour stops startup with a <see cref="ConfigException"/> naming
/// the file and line: a setting that is silently ignored is worse than one that is refused. Every line is read, and
/// the exception carries every error found (<see cref="ConfigException.Errors"/>).
/// </summary>
public static class ConfigParser
{
    // include_dir may nest; a directory that includes itself must fail, not recurse forever.
    private const int MaxIncludeDepth = 8;

    public static HoldfastConfig ParseFile(string path)
    {
        var builder = new ConfigBuilder();
        ReadFile(builder, path, depth: 0, includedFrom: null);
        var config = Built(builder);
        config.ConfigFile = Path.GetFullPath(path);
        return config;
    }

    /// <summary>Parses config text; <paramref name="fileName"/> is used in error messages and to resolve relative include_dir paths.</summary>
    public static HoldfastConfig Parse(string text, string fileName)
    {
        var builder = new ConfigBuilder();
        ReadText(builder, text, fileName, depth: 0);
        return Built(builder);
    }

    /// <summary>The config, or every error the lines had; the checks across lines run once the lines are right.</summary>
    private static HoldfastConfig Built(ConfigBuilder builder)
    {
        if (builder.Errors.Count > 0) throw ConfigException.All(builder.Errors);
        return builder.Build();
    }

    private static void ReadFile(ConfigBuilder builder, string path, int depth, ConfigLine? includedFrom)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (includedFrom is not null)
                throw includedFrom.Fail($"cannot read '{path}': {e.Message}");
            throw new ConfigException(path, 0, $"cannot read config file: {e.Message}", e);
        }
        ReadText(builder, text, path, depth);
    }

    private static void ReadText(ConfigBuilder builder, string text, string fileName, int depth)
    {
        // As in Mosquitto, each file starts outside any listener block, so an included file means the same
        // wherever it is included; the including file carries on in its own block afterwards.
        var outerListener = builder.CurrentListener;
        builder.CurrentListener = null;

        using var reader = new StringReader(text);
        int number = 0;
        while (reader.ReadLine() is { } raw)
        {
            number++;
            var line = ConfigLine.TryRead(fileName, number, raw);
            if (line is null)
                continue;
            try
            {
                if (line.Key == "include_dir")
                    IncludeDirectory(builder, line, fileName, depth);
                else
                    builder.Apply(line);
            }
            catch (ConfigException e)
            {
                builder.Errors.Add(e);
            }
        }

        builder.CurrentListener = outerListener;
    }

    /// <summary>include_dir DIR: every *.conf file in DIR, in ordinal (case-sensitive) name order, as Mosquitto does.</summary>
    private static void IncludeDirectory(ConfigBuilder builder, ConfigLine line, string fileName, int depth)
    {
        if (depth >= MaxIncludeDepth)
            throw line.Fail($"nested more than {MaxIncludeDepth} deep (does a directory include itself?)");

        var directory = line.Text();
        // A relative directory is taken relative to the file that names it, so a config tree can be moved as a
        // whole; Mosquitto uses the working directory, which for a service is rarely what the operator meant.
        if (!Path.IsPathRooted(directory))
            directory = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(fileName)) ?? "", directory);

        string[] files;
        try
        {
            files = Directory.EnumerateFiles(directory)
                .Where(f => f.EndsWith(".conf", StringComparison.Ordinal))
                .ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw line.Fail($"cannot read directory '{directory}': {e.Message}");
        }

        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
            ReadFile(builder, file, depth + 1, includedFrom: line);
    }
}
