using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

public class IncludeDirTests
{
    [Fact]
    public void Includes_conf_files_in_sorted_order_and_nothing_else()
    {
        using var dir = new TempDirectory();
        dir.Write("conf.d/20-second.conf", "max_inflight_messages 2\nlistener 1884\n");
        dir.Write("conf.d/10-first.conf", "max_inflight_messages 1\nlistener 1883\n");
        dir.Write("conf.d/README", "this is not config\n");
        dir.Write("conf.d/30-old.conf.bak", "not config either\n");
        var main = dir.Write("holdfast.conf", $"max_queued_messages 5\ninclude_dir {Path.Combine(dir.Path, "conf.d")}\n");

        var config = ConfigParser.ParseFile(main);

        Assert.Equal(5, config.Broker.MaxQueuedMessages);
        Assert.Equal(2, config.Broker.MaxInflightMessages);
        Assert.Equal([1883, 1884], config.Listeners.Select(l => l.Port));
        Assert.EndsWith("10-first.conf", config.Listeners[0].File);
        Assert.Equal(2, config.Listeners[0].Line);
    }

    [Fact]
    public void Relative_directory_is_relative_to_the_including_file()
    {
        using var dir = new TempDirectory();
        dir.Write("etc/conf.d/a.conf", "listener 1999\n");
        var main = dir.Write("etc/holdfast.conf", "include_dir conf.d\n");

        var config = ConfigParser.ParseFile(main);

        Assert.Equal(1999, Assert.Single(config.Listeners).Port);
    }

    [Fact]
    public void Included_file_starts_outside_any_listener_and_the_includer_resumes_its_block()
    {
        using var dir = new TempDirectory();
        dir.Write("conf.d/a.conf", "max_inflight_messages 3\n");
        var main = dir.Write("holdfast.conf", $"listener 1883\ninclude_dir {Path.Combine(dir.Path, "conf.d")}\nmax_connections 4\n");

        var config = ConfigParser.ParseFile(main);

        var listener = Assert.Single(config.Listeners);
        Assert.Equal(4, listener.MaxConnections);
    }

    [Fact]
    public void Error_in_included_file_names_that_file_and_line()
    {
        using var dir = new TempDirectory();
        var bad = dir.Write("conf.d/bad.conf", "# fine\nmax_keepalive forever\n");
        var main = dir.Write("holdfast.conf", $"include_dir {Path.Combine(dir.Path, "conf.d")}\n");

        var error = Assert.Throws<ConfigException>(() => ConfigParser.ParseFile(main));

        Assert.Equal($"{bad}:2: max_keepalive: 'forever' is not a number", error.Message);
    }

    [Fact]
    public void Missing_directory_is_an_error_on_the_include_line()
    {
        using var dir = new TempDirectory();
        var main = dir.Write("holdfast.conf", "\ninclude_dir /no/such/holdfast/dir\n");

        var error = Assert.Throws<ConfigException>(() => ConfigParser.ParseFile(main));

        Assert.Equal(main, error.File);
        Assert.Equal(2, error.Line);
        Assert.StartsWith("include_dir: cannot read directory '/no/such/holdfast/dir'", error.Reason);
    }

    [Fact]
    public void Directory_that_includes_itself_fails_instead_of_recursing_forever()
    {
        using var dir = new TempDirectory();
        dir.Write("conf.d/loop.conf", "include_dir .\n");
        var main = dir.Write("holdfast.conf", "include_dir conf.d\n");

        var error = Assert.Throws<ConfigException>(() => ConfigParser.ParseFile(main));

        Assert.Contains("include_dir: nested more than 8 deep", error.Message);
    }
}
