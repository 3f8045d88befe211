using CsCheck;
using Holdfast.Protocol.Tests.Helpers;

namespace Holdfast.Protocol.Tests;

/// <summary>Topic names, filters, shared subscriptions and matching: MQTT 5.0 §4.7 and §4.8.2 (the same rules as 3.1.1 §4.7).</summary>
public class TopicRulesTests
{
    // ------------------------------------------------------------------ names

    [Theory]
    [InlineData("a")]
    [InlineData("a/b/c")]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData("/a")]
    [InlineData("a/")]
    [InlineData("a//b")]
    [InlineData(" ")]
    [InlineData("$SYS/broker/clients")]
    [InlineData("$share/g/a")]          // only a filter is a shared subscription; as a name it is just a topic
    [InlineData("sport/tennis/player1")]
    [InlineData("ümlaut/日本/🙂")]
    [InlineData("a$b")]
    public void Valid_topic_names(string topic)
    {
        Assert.True(TopicRules.IsValidTopicName(topic));
        Assert.True(TopicRules.IsValidTopicName(topic, allowEmpty: true));
    }

    [Theory]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("a/+")]
    [InlineData("a/#")]
    [InlineData("a/+/b")]
    [InlineData("a+")]
    [InlineData("a#b")]
    [InlineData("sport/tennis#")]
    public void Topic_names_with_wildcards_are_invalid(string topic)
    {
        // [MQTT-4.7.1-1]: wildcards may be used in filters but not in topic names.
        Assert.False(TopicRules.IsValidTopicName(topic));
        Assert.False(TopicRules.IsValidTopicName(topic, allowEmpty: true));
    }

    [Fact]
    public void Empty_topic_name_is_valid_only_when_allowed()
    {
        // [MQTT-4.7.3-1]: at least one character; MQTT 5 lets PUBLISH carry an empty one with a Topic Alias.
        Assert.False(TopicRules.IsValidTopicName(""));
        Assert.True(TopicRules.IsValidTopicName("", allowEmpty: true));
    }

    [Fact]
    public void Generated_topic_names_are_valid()
    {
        MqttGen.TopicName.Sample(t => TopicRules.IsValidTopicName(t), iter: 2000);
    }

    // ------------------------------------------------------------------ filters

    [Theory]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("+/+")]
    [InlineData("/+")]
    [InlineData("+/")]
    [InlineData("/")]
    [InlineData("a")]
    [InlineData("a/#")]
    [InlineData("a/+/c")]
    [InlineData("a/+/#")]
    [InlineData("+/#")]
    [InlineData("/#")]
    [InlineData("sport/tennis/player1/#")]
    [InlineData("sport/+/player1")]
    [InlineData("$SYS/#")]
    [InlineData("$SYS/+/clients")]
    [InlineData("a//b")]
    [InlineData("//#")]
    [InlineData("$share")]          // no '/' after it: an ordinary filter named "$share"
    [InlineData("$sharex/a")]
    [InlineData("$SHARE/g/a")]      // case-sensitive: an ordinary filter
    [InlineData("$share/g/#")]
    [InlineData("$share/g/+/b")]
    [InlineData("$share/group/sport/tennis/#")]
    [InlineData("$share/g/$SYS/#")]
    public void Valid_topic_filters(string filter)
    {
        Assert.True(TopicRules.IsValidTopicFilter(filter));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a#")]
    [InlineData("#a")]
    [InlineData("a/#/b")]
    [InlineData("#/")]
    [InlineData("#/a")]
    [InlineData("##")]
    [InlineData("a/b#")]
    [InlineData("sport/tennis#")]
    [InlineData("+a")]
    [InlineData("a+")]
    [InlineData("a/+b/c")]
    [InlineData("++")]
    [InlineData("+#")]
    [InlineData("sport+")]
    [InlineData("$share/")]          // no share name
    [InlineData("$share//a")]        // empty share name [MQTT-4.8.2-1]
    [InlineData("$share/g")]         // no topic filter [MQTT-4.8.2-2]
    [InlineData("$share/g/")]        // empty topic filter
    [InlineData("$share/g+/a")]      // share name holds '+'
    [InlineData("$share/g#/a")]      // share name holds '#'
    [InlineData("$share/+/a")]
    [InlineData("$share/#/a")]
    [InlineData("$share/#")]
    [InlineData("$share/g/a#")]
    [InlineData("$share/g/#/a")]
    public void Invalid_topic_filters(string filter)
    {
        // [MQTT-4.7.1-2]: '#' alone or after '/', and last; [MQTT-4.7.1-3]: '+' fills a whole level.
        Assert.False(TopicRules.IsValidTopicFilter(filter));
    }

    [Fact]
    public void Generated_filters_are_valid()
    {
        MqttGen.TopicFilter.Sample(f => TopicRules.IsValidTopicFilter(f), iter: 2000);
    }

    [Fact]
    public void Hash_anywhere_but_the_last_level_makes_a_filter_invalid()
    {
        Gen.Select(MqttGen.PlainTopicFilter, MqttGen.TopicLevel.Array[1, 3]).Sample((filter, tail) =>
        {
            var bad = $"{filter.TrimEnd('#').TrimEnd('/')}/#/{string.Join('/', tail)}";
            Assert.False(TopicRules.IsValidTopicFilter(bad), bad);
        }, iter: 1000);
    }

    [Fact]
    public void Wildcard_glued_to_other_characters_makes_a_filter_invalid()
    {
        Gen.Select(MqttGen.TopicLevel.Where(l => l.Length > 0), Gen.OneOfConst('+', '#'), Gen.Bool).Sample((level, wildcard, before) =>
        {
            var bad = before ? $"{wildcard}{level}" : $"{level}{wildcard}";
            Assert.False(TopicRules.IsValidTopicFilter(bad), bad);
            Assert.False(TopicRules.IsValidTopicFilter("x/" + bad), bad);
        }, iter: 1000);
    }

    [Fact]
    public void HasWildcard()
    {
        Assert.True(TopicRules.HasWildcard("a/+"));
        Assert.True(TopicRules.HasWildcard("#"));
        Assert.False(TopicRules.HasWildcard("a/b"));
        Assert.False(TopicRules.HasWildcard("$share/g/a"));
    }

    // ------------------------------------------------------------------ shared subscriptions (MQTT 5.0 §4.8.2)

    [Theory]
    [InlineData("$share/g/a/b", "g", "a/b")]
    [InlineData("$share/group1/#", "group1", "#")]
    [InlineData("$share/g/+", "g", "+")]
    [InlineData("$share/g//", "g", "/")]
    [InlineData("$share/g/$SYS/x", "g", "$SYS/x")]
    [InlineData("$share/日本/a", "日本", "a")]
    [InlineData("$share/$share/a", "$share", "a")]
    public void Shared_subscriptions_parse(string filter, string group, string inner)
    {
        Assert.True(TopicRules.IsShared(filter));
        Assert.True(TopicRules.TryParseShared(filter, out var g, out var f));
        Assert.Equal(group, g);
        Assert.Equal(inner, f);
        Assert.True(TopicRules.IsValidTopicFilter(filter));
    }

    [Theory]
    [InlineData("$share/g")]
    [InlineData("$share//a")]
    [InlineData("$share/g/")]
    [InlineData("$share/g+/a")]
    [InlineData("$share/g/a#")]
    [InlineData("a/b")]
    [InlineData("$SHARE/g/a")]
    [InlineData("$share")]
    public void Malformed_or_plain_filters_do_not_parse_as_shared(string filter)
    {
        Assert.False(TopicRules.TryParseShared(filter, out var g, out var f));
        Assert.Equal("", g);
        Assert.Equal("", f);
    }

    [Fact]
    public void Generated_shared_filters_parse_back_to_their_parts()
    {
        Gen.Select(MqttGen.ShareName, MqttGen.PlainTopicFilter).Sample((group, filter) =>
        {
            Assert.True(TopicRules.TryParseShared($"$share/{group}/{filter}", out var g, out var f));
            Assert.Equal(group, g);
            Assert.Equal(filter, f);
        }, iter: 1000);
    }

    // ------------------------------------------------------------------ matching

    [Theory]
    // The examples of MQTT 5.0 §4.7.1.2 and §4.7.1.3.
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player2", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    // '#' alone.
    [InlineData("#", "a", true)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("#", "/", true)]
    [InlineData("#", "/a", true)]
    [InlineData("#", "a/", true)]
    // 'a/#' matches the parent 'a'.
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/", true)]
    [InlineData("a/#", "a/b", true)]
    [InlineData("a/#", "ab", false)]
    [InlineData("a/#", "b", false)]
    [InlineData("a/#", "b/a", false)]
    [InlineData("a/b/#", "a", false)]
    // '+' matches an empty level.
    [InlineData("a/+/c", "a//c", true)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/b/d", false)]
    [InlineData("a/+/c", "a/c", false)]
    [InlineData("a/+/c", "a/b/b/c", false)]
    [InlineData("+/+", "/", true)]
    [InlineData("+", "a", true)]
    [InlineData("+", "a/b", false)]
    [InlineData("a/+", "a", false)]
    [InlineData("a/+/#", "a/b", true)]
    [InlineData("a/+/#", "a", false)]
    [InlineData("+/#", "a", true)]
    [InlineData("+/#", "/", true)]
    // '/' edge cases: leading, trailing and doubled separators make distinct levels.
    [InlineData("/", "/", true)]
    [InlineData("a", "a/", false)]
    [InlineData("a/", "a", false)]
    [InlineData("a/", "a/", true)]
    [InlineData("/a", "a", false)]
    [InlineData("a", "/a", false)]
    [InlineData("a//b", "a/b", false)]
    [InlineData("a//b", "a//b", true)]
    [InlineData("/#", "/", true)]
    [InlineData("/#", "/a/b", true)]
    [InlineData("/#", "a", false)]
    [InlineData("//", "//", true)]
    [InlineData("+/+/+", "//", true)]
    [InlineData("+/+", "//", false)]
    // Case-sensitive, exact.
    [InlineData("ACCOUNTS", "Accounts", false)]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/bc", false)]
    [InlineData("a/bc", "a/b", false)]
    [InlineData("Accounts payable", "Accounts payable", true)]
    public void Matches(string filter, string topic, bool expected)
    {
        Assert.Equal(expected, TopicRules.Matches(filter, topic));
    }

    [Theory]
    // [MQTT-4.7.2-1]: filters starting with a wildcard do not match topics starting with '$'.
    [InlineData("#", "$SYS/broker", false)]
    [InlineData("#", "$SYS", false)]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)]
    [InlineData("+", "$SYS", false)]
    [InlineData("+/#", "$SYS/a", false)]
    [InlineData("$SYS/#", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/#", "$SYS", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/+/Clients", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS", "$SYS", true)]
    // '$' only matters at the very start of the topic.
    [InlineData("#", "a/$SYS", true)]
    [InlineData("+/$x", "a/$x", true)]
    [InlineData("a/+", "a/$b", true)]
    [InlineData("a/#", "a/$b/c", true)]
    public void Dollar_topics_and_leading_wildcards(string filter, string topic, bool expected)
    {
        Assert.Equal(expected, TopicRules.Matches(filter, topic));
    }

    [Fact]
    public void A_filter_without_wildcards_matches_only_the_identical_topic()
    {
        Gen.Select(MqttGen.TopicName, MqttGen.TopicName).Sample((a, b) =>
        {
            Assert.True(TopicRules.Matches(a, a));
            Assert.Equal(a == b, TopicRules.Matches(a, b));
        }, iter: 2000);
    }

    /// <summary>Replace any levels of a topic by '+', or cut it after any level and add '#': the filter still matches,
    /// unless the first level became a wildcard and the topic starts with '$'.</summary>
    [Fact]
    public void Filters_derived_from_a_topic_match_it()
    {
        Gen.Select(MqttGen.TopicName, Gen.Bool.Array[8], Gen.Int[0, 8], Gen.Bool).Sample((topic, plus, cut, hash) =>
        {
            var levels = topic.Split('/');
            var filterLevels = levels.Select((l, i) => plus[i % plus.Length] ? "+" : l).ToList();
            if (hash)
            {
                int keep = cut % (levels.Length + 1);
                filterLevels = [.. filterLevels.Take(keep), "#"];
            }
            var filter = string.Join('/', filterLevels);
            Assert.True(TopicRules.IsValidTopicFilter(filter), filter);
            bool wildcardFirst = filterLevels[0] is "+" or "#";
            bool expected = !(topic.StartsWith('$') && wildcardFirst);
            Assert.True(expected == TopicRules.Matches(filter, topic), $"filter '{filter}' topic '{topic}'");
        }, iter: 3000);
    }

    /// <summary>Matching against a simple reference implementation (split on '/', compare level by level).</summary>
    [Fact]
    public void Matches_agrees_with_a_reference_implementation()
    {
        var smallLevel = Gen.OneOfConst("", "a", "b", "$x");
        var topicGen = smallLevel.Array[1, 4].Select(ls => string.Join('/', ls)).Where(t => t.Length > 0);
        var filterGen = Gen.Select(Gen.OneOfConst("", "a", "b", "$x", "+").Array[0, 4], Gen.Bool)
            .Select((ls, hash) => string.Join('/', hash ? [.. ls, "#"] : ls))
            .Where(f => f.Length > 0);
        Gen.Select(filterGen, topicGen).Sample((filter, topic) =>
        {
            Assert.True(Reference(filter, topic) == TopicRules.Matches(filter, topic), $"filter '{filter}' topic '{topic}'");
        }, iter: 5000);

        static bool Reference(string filter, string topic)
        {
            if (topic.StartsWith('$') && (filter.StartsWith('+') || filter.StartsWith('#'))) return false;
            var f = filter.Split('/');
            var t = topic.Split('/');
            for (int i = 0; i < f.Length; i++)
            {
                if (f[i] == "#") return true;
                if (i >= t.Length) return false;
                if (f[i] != "+" && f[i] != t[i]) return false;
            }
            return f.Length == t.Length;
        }
    }
}
