"""The word lists and patterns of the rules extractor (``lineage.extract.rules``).

- **support levels**: what each kind of evidence is worth (calibrated on the real-card set, see
  ``bench/calibrate_confidence.py`` and docs/extraction.md);
- **cues**: derivation phrases (with the relationship they give) and the phrases that say a mention is *not* a
  source (evaluation, decontamination, comparison, removal, siblings and releases);
- **names**: the words that are never names, the shapes of paths and files, of categories and of descriptions.

Data only: the logic that uses them is in ``lineage.extract.rules``.
"""

from __future__ import annotations

import re

from graph_store.models import Relationship

STRONG = 0.9

TABLE = 0.85

LISTED = 0.8

WEAK = 0.55

BARE_LINK = 0.5

ACKNOWLEDGED = 0.45

# A linked Hub dataset in a section about the data's sources ("## Dataset Sources", "### Source Data"), with no
# derivation phrase. Calibrated on the real-card set by bench/calibrate_confidence.py (see docs/extraction.md).
SECTION_LINK = 0.8

HEDGE_FACTOR = 0.6

LOWERCASE_FACTOR = 0.85

R = Relationship

DERIVATION_CUES: list[tuple[str, Relationship, float]] = [
    (r"distill(?:ed|ing|ation)?\b(?:\s+\w+){0,3}?\s+from", R.COT_DISTILLATION, STRONG),
    (r"distill(?:ed|ing|ation)", R.COT_DISTILLATION, STRONG),
    (
        r"(?:responses|answers|solutions|completions|reasoning traces|traces|chains? of thought|cots?|rationales)"
        r"(?:\s+\w+){0,3}?\s+(?:were\s+|are\s+|is\s+)?(?:generated|produced|written|annotated|regenerated|sampled)"
        r"\s+(?:by|with|using|from)",
        R.COT_DISTILLATION,
        STRONG,
    ),
    (
        r"(?:re-?generated|re-?annotated|annotated)\s+(?:\w+\s+){0,3}?(?:by|with|using)",
        R.COT_DISTILLATION,
        STRONG,
    ),
    (r"evol(?:ved|ving|ution|-instruct)\b", R.SEMANTIC_EVOLUTION, STRONG),
    (
        r"(?:rewrit(?:e|ten|ing)|rephras(?:e|ed|ing)|paraphras(?:e|ed|ing)|bootstrapp(?:ed|ing)|augment(?:ed|ing|ation))",
        R.SEMANTIC_EVOLUTION,
        STRONG,
    ),
    (r"synthe(?:si[sz]ed|ti[cs]ally generated|si[sz]ing|sis)", R.SYNTHETIC_GENERATION, STRONG),
    (
        r"(?:generated|created|produced)\s+(?:\w+\s+){0,3}?(?:from|using|with|based on)\s+(?:\w+\s+){0,2}?seeds?",
        R.SYNTHETIC_GENERATION,
        STRONG,
    ),
    (
        r"(?:as|from|using)\s+(?:the\s+)?seeds?\b|seed (?:problems|questions|data|prompts|tasks)",
        R.SYNTHETIC_GENERATION,
        STRONG,
    ),
    (
        r"(?:a\s+)?(?:mixture|mix|blend|union|combination|compilation|aggregation|merge)\s+of",
        R.STRUCTURED_FUSION,
        STRONG,
    ),
    (
        r"(?:combin(?:e|es|ed|ing)|merg(?:e|es|ed|ing)|aggregat(?:e|es|ed|ing)|blend(?:s|ed|ing)?|consolidat(?:e|es|ed|ing)|"
        r"unif(?:y|ies|ied))\b",
        R.STRUCTURED_FUSION,
        STRONG,
    ),
    (r"(?:sub-?set|portion|part|slice|split|sample)s?\s+of", R.DIRECT_INCLUSION, STRONG),
    (
        r"(?:cleaned|filtered|binarized|processed|pre-processed|preprocessed|deduplicated|decontaminated|"
        r"reformatted|translated|subsampled|curated|annotated|relabell?ed|extended|enhanced)\s+version\s+of|"
        r"(?:iteration|built|build|based)\s+on\s+top\s+of",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (r"\b(?:version|iteration)\s+of|\bon\s+top\s+of", R.DIRECT_INCLUSION, WEAK),
    (r"filter(?:ed|ing)?\b(?:\s+\w+){0,3}?\s+(?:of|from)", R.DIRECT_INCLUSION, STRONG),
    (
        r"(?:derived|sourced|collected|taken|drawn|extracted|sampled|selected|curated|gathered|obtained|adapted|"
        r"compiled|built|constructed|scraped|crawled|converted|originat(?:es|ed|ing)|comes?|came)"
        r"(?:\s+\w+){0,3}?\s+(?:from|out of)",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (
        r"(?:we|they)\s+(?:collect|gather|use|reuse|take|draw|extract|sample|select|curate|crawl)(?:\s+\w+){0,4}?\s+from",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (
        r"(?:includ(?:e|es|ed|ing)|contain(?:s|ed|ing)?|consists?\s+of|compris(?:e|es|ed|ing)(?:\s+of)?|"
        r"incorporat(?:e|es|ed|ing)|made up of|is composed of)\b",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (
        r"(?:source|upstream|parent|seed|task|original|base|underlying)\s+(?:datasets?|data|corpora)\s*"
        r"(?:are|is|include|:)",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (r"(?<!open )(?<!open-)\bsources?\s*:", R.DIRECT_INCLUSION, LISTED),
    (
        r"\b(?:samples|problems|examples|instances|data|questions|prompts|tasks|items|conversations)\s+"
        r"(?:\w+\s+){0,2}?from\b",
        R.DIRECT_INCLUSION,
        LISTED,
    ),
    (
        r"(?:based|built|relies|builds|build)\s+(?:up)?on\s+(?:the\s+)?(?:prompts|questions|problems|samples|"
        r"instructions|conversations|seeds?|queries)\s+(?:of|from)",
        R.DIRECT_INCLUSION,
        STRONG,
    ),
    (r"(?:based|built|relies|builds)\s+(?:up)?on", R.DIRECT_INCLUSION, WEAK),
    (
        r"(?:uses|used|using|leverag(?:e|es|ed|ing)|utiliz(?:e|es|ed|ing)|employ(?:s|ed|ing)?)\b",
        R.DIRECT_INCLUSION,
        WEAK,
    ),
]

# Mentions that are not sources: (pattern, role, strength of the evidence that the mention is NOT a source).
# Evaluating on a benchmark is weak evidence (datasets do include benchmarks they evaluate on); decontaminating
# against it, or saying the data does not include it, is strong evidence.
NEGATIVE_CUES: list[tuple[str, str, float]] = [
    (
        r"decontaminat\w*|\bcontaminat\w*|de-?duplicated?\s+against|removed?\s+(?:any\s+)?(?:overlap|problems|samples|items)"
        r"(?:\s+\w+){0,4}?\s+(?:with|from|in|that appear)|n-?gram\s+overlap",
        "eval_benchmark",
        0.95,
    ),
    (
        r"(?:do(?:es)?|did|is|are|was|were)\s+not\s+(?:\w+\s+){0,2}?(?:include|contain|use|derive|draw|come|"
        r"derived|included|used|based)|\bexclud(?:e|es|ed|ing)\b|\bwithout\b|\bno\s+(?:data|samples|problems)\s+from",
        "other",
        0.95,
    ),
    (
        r"evaluat(?:e|es|ed|ing|ion)|benchmark(?:s|ed|ing)?\s+(?:on|results|scores)|(?:results|accuracy|scores?|"
        r"performance|pass@\d)\s+(?:on|in|across)|tested\s+on|held-?out|test(?:ed)?\s+(?:against|with)",
        "eval_benchmark",
        0.45,
    ),
    (
        r"outperform\w*|surpass\w*|beats?|compar(?:e|ed|es|ing|ison)\s*(?:to|with|against)?|than|versus|\bvs\.?",
        "compared",
        0.5,
    ),
    (r"baselines?", "baseline", 0.6),
    (
        r"ideas?\s+(?:from|of)|motivated by|methodology of|approach of|unlike|in contrast to|similar to|inspired by|see also|related work|concurrent work|cf\.|follow(?:s|ing)?\s+"
        r"(?:the\s+)?(?:format|style|recipe)\s+of",
        "other",
        0.5,
    ),
]

NEGATIVE_CUES += [
    # data taken out of the target
    (r"\bremov(?:e|ed|es|ing)\b|\bfiltered\s+out\b|\bdiscard(?:ed|ing)?\b|\bdropped\b", "other", 0.9),
    # predecessors, successors, siblings and releases of the same authors
    (
        r"follow-?up\s+(?:to|of)|successor\s+(?:to|of)|predecessor|previous\s+(?:version|iteration|release)|"
        r"continuation\s+of|instead\s+of|we\s+recommend\s+using",
        "other",
        0.9,
    ),
    (
        r"\bsee\b(?:\s+\w+){0,2}\s*:|\brefer\s+to\b|\bcheck\s+out\b|can\s+be\s+(?:found|downloaded|accessed)|"
        r"(?:also\s+|is\s+|are\s+)available\s*(?:at|here|on|in|:)?|"
        r"we\s+(?:also\s+)?(?:release[ds]?|open-?sourced?|publish(?:ed)?)\b|(?:was|were|is)\s+used\s+to\s+train|"
        r"models?\s+trained\s+on",
        "other",
        0.6,
    ),
]

SECTION_ONLY = 0.3

HEDGES = re.compile(
    r"\b(?:may|might|possibly|probably|likely|perhaps|presumably|unclear|unverified|we believe|appears? to|seems? to|"
    r"reportedly|some (?:of|portion)|not sure|partially documented|unknown)\b",
    re.IGNORECASE,
)

SPLIT = re.compile(
    r"\b(train(?:ing)?|test|validation|dev|eval(?:uation)?)\s+(?:split|set|subset|partition)\b"
    r"|\((train(?:ing)?|test|validation|dev)(?:\s+(?:split|set))?\)",
    re.IGNORECASE,
)

CLAUSE_BREAK = re.compile(r";|,?\s+while\s+|,?\s+whereas\s+|,\s+but\s+|\.\s+|,\s+and\s+(?:we|they|it)\s+")

SOURCE_TABLE_HEADER = re.compile(
    r"source|dataset|subset|origin|component|corpus|collection|from", re.IGNORECASE
)

EVAL_TABLE_HEADER = re.compile(
    r"accuracy|score|pass@|benchmark|acc\b|em\b|f1|model|baseline|result|%\s*$", re.IGNORECASE
)

TEACHER_CUE = re.compile(
    r"(?:generated|produced|written|annotated|sampled|distill\w*|regenerated|responses|"
    r"solutions|traces|teacher|by|from|with|using)",
    re.IGNORECASE,
)

# a table row or list item that totals or describes the target itself, not a source
NOT_A_SOURCE_CELL = re.compile(
    r"^(?:total|overall|sum|all|average|avg|mean|ours|our\b.*|this (?:work|dataset)|combined|—|-|n/?a)\s*:?$",
    re.IGNORECASE,
)

# nouns that make "including", "covers", "spans" and list leads describe topics, not sources
TOPIC_NOUNS = re.compile(
    r"\b(?:topics?|subjects?|domains?|categor(?:y|ies)|areas?|discipline?s?|fields? of|languages?|skills?|"
    r"task types?|genres?|themes?|levels?|difficult(?:y|ies)|types? of (?:problems|questions|tasks)|"
    r"variants?|versions?|splits?|configs?|configurations?|criteria|attributes?|metrics?|factors?|"
    r"dimensions?|steps?|stages?|ways?|features?|columns?|fields?|keys?)\b",
    re.IGNORECASE,
)

# a path or a file, not an ``org/name`` repo: a path-like first part, a file extension, a trailing separator
PATH_LIKE = re.compile(
    r"^(?:data|datasets?|assets?|images?|img|imgs|static|src|docs?|files?|raw|resolve|blob|tree|main|commit|"
    r"commits|pull|pr|issues?|refs?|train|test|validation|output|outputs|results?|scripts?|configs?)/"
    r"|\.(?:md|png|jpe?g|gif|svg|json|jsonl|parquet|csv|tsv|txt|py|ipynb|yaml|yml|zip|gz|tar|arrow|html?|pdf)$"
    r"|[-_.]$|^[0-9a-f]{4,}/",
    re.IGNORECASE,
)

TRAILING_QUALIFIER = re.compile(
    r"\s*\([^)]*\)\s*$|\s+(?:problems|questions|prompts|subset|split|train|training|test|set|portion|samples|"
    r"examples|instructions|data|dataset)(?:\s+(?:set|split|subset))?\s*$",
    re.IGNORECASE,
)

PART_OF = re.compile(
    r"\b(?:subsets?|splits?|portions?|parts?|categories|configs?|sources?)\s+(?:of|in|from)\s+(?:the\s+)?",
    re.IGNORECASE,
)

CATEGORY_COLUMN = re.compile(
    r"^\W*(?:domains?|categor(?:y|ies)|topics?|subjects?|languages?|tasks?(?:\s+types?)?|types?|splits?|"
    r"difficult(?:y|ies)|levels?|lengths?|models?|stages?|metrics?|fields?|columns?|features?|configs?|versions?|"
    r"sizes?|disciplines?|areas?|skills?)\W*$",
    re.IGNORECASE,
)

METHOD_AFTER = re.compile(
    r"\s+(?:approach|method(?:ology)?|technique|paradigm|strategy|framework|recipe|pipeline)\b", re.IGNORECASE
)

# catalog names that are also everyday English words: written in lower case in prose, they are the word
ENGLISH_WORD_NAMES = {
    "drop", "apps", "taco", "arc", "math", "calm", "opus", "wiki", "lila", "limo", "dolphin", "textbook",
    "textbooks", "mbpp", "scale", "orca", "platypus", "capybara", "dolly", "magpie", "lima", "piqa", "race",
    "story", "code", "science", "reasoning",
}  # fmt: skip

LISTING_VERB = re.compile(r"includ|contain|cover|span|compris|consist|rang", re.IGNORECASE)

STYLE_AFTER = re.compile(
    r"[\s-]*(?:style|format(?:ted)?|template|structure|schema|conventions?)\b", re.IGNORECASE
)

DEFINED_AFTER = re.compile(
    r"(?:\s+dataset)?\s+(?:is|was)\s+(?:a|an)\s+(?:[\w-]+\s+){0,4}?"
    r"(?:dataset|corpus|collection|benchmark|set|version|subset|mixture|model)\b",
    re.IGNORECASE,
)

ORG_AFTER = re.compile(r"\s+(?:AI|Inc\.?|Labs?|Research|Team|Corp\.?|LLC)\b")

BARE_ID = re.compile(
    r"(?<![\w/.@:-])`?([A-Za-z0-9][A-Za-z0-9_.\-]{1,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{1,95})`?(?![\w/-])"
)

AFTER_FROM = re.compile(r"\b(?:from|of)\s+$", re.IGNORECASE)

HF_URL = re.compile(
    r"(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/datasets/[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*",
    re.IGNORECASE,
)

URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\],;|]+[^\s<>()\[\],;|.]")

FIELD_LIST_LEAD = re.compile(
    r"\b(?:fields?|columns?|attributes?|keys?|features?|format|schema|topics?|subjects?|domains?|categor(?:y|ies)|"
    r"areas?|disciplines?|languages?|skills?|variants?|versions?|splits?|configs?|criteria|metrics?|factors?|"
    r"dimensions?|steps?|stages?|ways?|models?|links?|resources?)\b",
    re.IGNORECASE,
)

MD_LINK = re.compile(r"\[([^\]\n]{1,120})\]\(([^)\s]+)\)")

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._'’\-]*(?:\([A-Za-z0-9]+\))?")

COMMON_SLASH = {
    "and/or",
    "input/output",
    "train/test",
    "q/a",
    "w/o",
    "i/o",
    "pros/cons",
    "true/false",
    "yes/no",
    "math/code",
    "he/she",
    "read/write",
    "client/server",
    "question/answer",
    "prompt/response",
}

STOP_CAPITALS = {
    "we",
    "our",
    "the",
    "this",
    "these",
    "those",
    "it",
    "its",
    "in",
    "on",
    "for",
    "to",
    "a",
    "an",
    "and",
    "or",
    "of",
    "with",
    "from",
    "by",
    "all",
    "each",
    "every",
    "some",
    "most",
    "many",
    "both",
    "english",
    "chinese",
    "python",
    "java",
    "c++",
    "javascript",
    "github",
    "hugging",
    "face",
    "huggingface",
    "table",
    "section",
    "figure",
    "appendix",
    "note",
    "finally",
    "first",
    "second",
    "third",
    "then",
    "also",
    "additionally",
    "moreover",
    "furthermore",
    "however",
    "specifically",
    "problems",
    "questions",
    "data",
    "dataset",
    "datasets",
    "responses",
    "solutions",
    "samples",
    "examples",
    "instructions",
    "prompts",
    "answers",
    "they",
    "their",
    "other",
    "several",
    "various",
    "following",
    "train",
    "test",
    "split",
    "subset",
    "version",
    "i",
    "you",
    "he",
    "she",
    "after",
    "before",
    "which",
    "whose",
    "others",
    "any",
    "none",
    "such",
    "same",
    "more",
    "less",
    "new",
    "only",
    "sft",
    "rl",
    "cot",
    "llm",
    "llms",
    "ai",
    "nlp",
    "qa",
    "stem",
    "math",
    "code",
    "science",
    "general",
    "reasoning",
    "license",
    "apache",
    "mit",
    "cc",
    "nc",
    "sa",
    "json",
    "jsonl",
    "csv",
    "parquet",
    "markdown",
    "yaml",
    "pdf",
    "pdfs",
    "link",
    "links",
    "url",
    "here",
    "method",
    "methods",
    "approach",
    "pipeline",
    "lrm",
    "lrms",
    "instances",
    "million",
    "billion",
    "thousand",
    "total",
    "overall",
    "ours",
    "paper",
    "blog",
    "repo",
    "repository",
    "website",
    "demo",
    "model",
    "models",
    "step",
    "stage",
}

CONNECTORS = {"and", "or", "with", "by", "from", "of", "the", "to", "in", "on", "for", "using", "via", "as"}

OBJECT_CUE_END = re.compile(
    r"(?:\bfrom|\bof|\bon|\bupon|out of|:|includ\w*|contain\w*|compris\w*|incorporat\w*|combin\w*|merg\w*|blend\w*|"
    r"unif\w*|aggregat\w*|consolidat\w*|are|is|include)\s*$",
    re.IGNORECASE,
)

FOLLOWING_PREPOSITION = re.compile(r"\s+(?:[a-z]+\s+){0,2}?(?:from|of|upon|on)\b", re.IGNORECASE)

NAME_TAIL_WORDS = {
    "corpora",
    "captions",
    "reviews",
    "dialogues",
    "headlines",
    "transcripts",
    "threads",
    "articles",
    "forum",
    "wiki",
    "website",
    "corpus",
    "dataset",
    "competition",
    "competitions",
    "problems",
    "archive",
    "collection",
    "olympiad",
    "olympiads",
    "exams",
}

LEADING_FILLER = re.compile(
    r"^(?:(?:the|a|an|its|their|our|publicly|available|public|open|open-source|existing|various|several|"
    r"multiple|selected|some|many|all|over|diverse|different|numerous|high-quality|other|a variety of|wide range of|about|around|roughly|~|\d[\d,.]*[kKmM]?|problems|questions|prompts|"
    r"samples|examples|instructions|conversations|dialogues|tasks|data|items|records|entries|pairs)\s+)+",
    re.IGNORECASE,
)

GENERIC_OBJECTS = {
    "web", "internet", "scratch", "sources", "datasets", "data", "humans", "annotators", "users", "it", "them",
    "this", "that", "these", "online sources", "multiple sources", "various sources", "public datasets",
    "existing datasets", "open-source datasets", "other datasets", "the", "model", "models", "llm", "llms", "others", "among others",
}  # fmt: skip

PREPOSITIONS = {
    "as", "into", "to", "for", "with", "by", "in", "on", "at", "than", "per", "via", "is", "are", "was", "were",
    "be", "been", "has", "have", "had",
}  # fmt: skip

# Verb forms that follow "and" in a derivation clause ("collected from X and rewritten for clarity").
IRREGULAR_PARTICIPLES = {
    "written", "rewritten", "taken", "chosen", "given", "drawn", "made", "built", "kept", "held", "found",
    "shown", "known", "broken", "hidden", "proven", "driven", "brought", "done", "left", "split", "cut", "put",
}  # fmt: skip

# first parts of hyphenated English compounds ("high-quality", "large-scale"): descriptions, not names
COMPOUND_HEADS = {
    "high", "low", "large", "small", "well", "real", "open", "fine", "multi", "single", "human", "long", "short",
    "state", "post", "pre", "non", "semi", "self", "cross", "top", "full", "half", "hand", "machine", "ready",
    "user", "model", "rule", "llm", "n", "chain", "step", "problem", "solution", "question", "answer", "math",
    "code", "domain", "task", "easy", "hard", "up", "in", "out", "re", "co", "de", "end", "one", "two", "three",
}  # fmt: skip

NAME_TAILS_FOR_COMMON = {
    "reviews", "forum", "wiki", "wikipedia", "website", "corpus", "corpora", "archive", "dump", "headlines",
    "transcripts", "captions", "subreddit", "exams", "olympiads", "competitions", "textbooks",
}  # fmt: skip

# ``source_datasets`` entries of a card's YAML that name no dataset
YAML_NO_SOURCE = {"original", "none", "n/a", "extended"}

# split names that mean the test split ("the eval split of X")
TEST_SPLIT_WORDS = {"test", "eval", "evaluation"}

# a model mentioned next to one of these words produced the data ("answers by DeepSeek-R1")
MODEL_USE = re.compile(r"\b(?:by|using|with|from)\b", re.IGNORECASE)

# markers before an example name inside a list item ("math problems such as GSM8K"), tried in this order
EXAMPLE_MARKERS = (" such as ", " including ", " like ", " e.g. ")

ARTICLES = {"the", "a"}
