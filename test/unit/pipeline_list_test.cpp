// passes/PipelineList.h: the one grammar of per-pipeline settings (partition-rows options,
// lrc-compile flags, the plan search's labels).
#include <gtest/gtest.h>

#include "passes/PipelineList.h"

namespace lrc::passes {
namespace {

TEST(PipelineList, ParsesAndFormatsEachKind) {
  EXPECT_EQ(parsePipelineIds("0:3:12"), (std::vector<int64_t>{0, 3, 12}));
  EXPECT_EQ(parsePipelineCounts("0/4:3/8"), (std::map<int64_t, int64_t>{{0, 4}, {3, 8}}));
  EXPECT_EQ(parsePipelineStrategies("1/overl:2/2ps"),
            (std::map<int64_t, RowStrategy>{{1, RowStrategy::OverL}, {2, RowStrategy::TwoPS}}));
  EXPECT_EQ(formatPipelineIds({0, 3, 12}), "0:3:12");
  EXPECT_EQ(formatPipelineCounts({{0, 4}, {3, 8}}), "0/4:3/8");
  EXPECT_EQ(formatPipelineStrategies({{1, RowStrategy::OverL}, {2, RowStrategy::TwoPS}}), "1/overl:2/2ps");
  EXPECT_EQ(formatPipelineIds({}), "");
  // What is formatted parses back to the same settings.
  EXPECT_EQ(parsePipelineCounts(formatPipelineCounts({{7, 16}})), (std::map<int64_t, int64_t>{{7, 16}}));
}

TEST(PipelineList, RejectsWhatDoesNotFollowTheGrammar) {
  for (const char* bad : {"", ":", "1:", ":1", "a", "-1", "+1", "1 ", "1/4", "99999999999999999999"})
    EXPECT_FALSE(parsePipelineIds(bad)) << bad;
  for (const char* bad : {"", "1", "1/", "1/0", "1/-2", "/4", "1/4:", "1/4/2", "1/x"})
    EXPECT_FALSE(parsePipelineCounts(bad)) << bad;
  for (const char* bad : {"", "1", "1/", "1/auto", "1/2PS", "x/overl", "1/overl:"})
    EXPECT_FALSE(parsePipelineStrategies(bad)) << bad;
}

// --cut and fuse-row-pipelines' `cut`: a mode, or cut point ids (sorted, once each), and back.
TEST(PipelineList, SegmentCuts) {
  FuseRowPipelinesOptions o;
  ASSERT_TRUE(parseSegmentCuts("3:1:3", o));
  EXPECT_EQ(o.cut, SegmentCut::None);
  EXPECT_EQ(o.cutPoints, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(formatSegmentCuts(o), "1:3");
  ASSERT_TRUE(parseSegmentCuts("downsample", o));
  EXPECT_EQ(o.cut, SegmentCut::Downsample);
  EXPECT_TRUE(o.cutPoints.empty());  // a mode replaces the ids
  EXPECT_EQ(formatSegmentCuts(o), "downsample");
  ASSERT_TRUE(parseSegmentCuts("none", o));
  EXPECT_EQ(formatSegmentCuts(o), "none");
  FuseRowPipelinesOptions listed, back;
  listed.cutPoints = {0, 2};
  ASSERT_TRUE(parseSegmentCuts(formatSegmentCuts(listed), back));
  EXPECT_EQ(back.cutPoints, (std::vector<int64_t>{0, 2}));
  for (const char* bad : {"", "2,3", "pools", "-1", "1:", "1/2", "Downsample"}) {
    FuseRowPipelinesOptions untouched;
    untouched.cut = SegmentCut::Downsample;
    EXPECT_FALSE(parseSegmentCuts(bad, untouched)) << bad;
    EXPECT_EQ(untouched.cut, SegmentCut::Downsample) << bad;
  }
}

}  // namespace
}  // namespace lrc::passes
