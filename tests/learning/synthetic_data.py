"""A synthetic labeled corpus for retraining tests (imported by conftest and the tests)."""

# A synthetic corpus a tiny random encoder learns within seconds: each topic and each sentiment has its own
# keywords, so a model trained on the true labels scores high and one trained on shuffled labels scores low.
TOPIC_WORDS = {"Dividend": "dividend payout", "Earnings": "earnings quarter", "IPO": "ipo debut listing",
               "Gold | Metals | Materials": "gold bullion"}
SENTIMENT_WORDS = {"positive": "surges rallies beats", "negative": "plunges slumps misses",
                   "neutral": "holds steady unchanged"}
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Oscorp"]


def synthetic_examples(n: int, seed: int) -> list[tuple[str, str, str]]:
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic, sentiment = rng.choice(list(TOPIC_WORDS)), rng.choice(list(SENTIMENT_WORDS))
        words = ([rng.choice(COMPANIES)] + TOPIC_WORDS[topic].split()[: rng.randint(1, 2)]
                 + SENTIMENT_WORDS[sentiment].split()[: rng.randint(1, 3)])
        rng.shuffle(words)
        out.append((f"{' '.join(words)} #{seed}-{i}", topic, sentiment))
    return out


def shuffled(examples: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Every label moved to another class (a derangement), so nothing true survives by chance."""
    topics, sentiments = list(TOPIC_WORDS), list(SENTIMENT_WORDS)
    return [(text, topics[(topics.index(t) + 1) % len(topics)],
             sentiments[(sentiments.index(s) + 1) % len(sentiments)]) for text, t, s in examples]


def write_csv(path, header, rows):
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path
