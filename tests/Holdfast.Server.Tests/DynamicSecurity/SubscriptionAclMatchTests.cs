using Holdfast.Server.Security.DynamicSecurity;

namespace Holdfast.Server.Tests.DynamicSecurity;

/// <summary>subscribePattern / unsubscribePattern rules against filters, as Mosquitto's dynamic security matches them.</summary>
public class SubscriptionAclMatchTests
{
    [Theory]
    [InlineData("foo/+/bar", "foo/#", false)]
    [InlineData("foo/+/bar/#", "foo/baz/bar", true)]
    [InlineData("foo/+/bar/#", "foo/baz/bar/+", true)]
    [InlineData("foo/+/bar/#", "foo/baz/bar/#", true)]
    [InlineData("foo/+/bar/#", "foo/baz/+/#", false)]
    [InlineData("/+//#", "/foo///#", true)]
    [InlineData("#", "#", true)]
    [InlineData("#", "+", true)]
    [InlineData("/#", "+", false)]
    [InlineData("/#", "/+", true)]
    [InlineData("/+", "#", false)]
    [InlineData("/+", "+", false)]
    [InlineData("+/+", "topic/topic", true)]
    [InlineData("+/+", "topic/topic/", false)]
    [InlineData("+", "#", false)]
    [InlineData("+", "+", true)]
    [InlineData("a/b/c/d/e", "a/b/c/d/e", true)]
    [InlineData("a/b/ /d/e", "a/b/c/d/e", false)]
    [InlineData("single-wildcard/+/topic", "single-wildcard/bob/topic", true)]
    [InlineData("multilevel-wildcard/#", "multilevel-wildcard/topic/topic/#", true)]
    public void A_pattern_covers_a_filter_as_in_Mosquitto(string acl, string filter, bool covers) =>
        Assert.Equal(covers, SubscriptionAclMatch.Covers(acl, filter));
}
