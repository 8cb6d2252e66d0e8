"""The 双随机 draw rule (domain.draws) as tables of cases: reproducibility, filters of eligibility, shares."""

from __future__ import annotations

from collections import Counter

import pytest

from domain.draws import (
    COLOURS,
    Candidate,
    DrawError,
    DrawOptions,
    Inspector,
    NeedMoreCandidatesError,
    Ranked,
    Sample,
    bounds_for,
    draw,
    draw_sampled,
    eligible,
    groups_of,
    hash_bound,
    options_from,
    pool_digest,
    sample_hash,
    sample_key,
)

CITY = "411000."
WEIDU = "411000.411002."
JIANAN = "411000.411003."


def pool(n: int = 60, area: str = WEIDU) -> list[Candidate]:
    return [Candidate(f"E{i:04d}", COLOURS[i % 5], f"{area}{i % 3}.", frozenset()) for i in range(n)]


def staff(n: int = 10, scope: str = WEIDU) -> list[Inspector]:
    return [Inspector(f"insp{i:02d}", scope) for i in range(n)]


def test_same_seed_same_draw_whatever_the_input_order() -> None:
    a = draw(pool(), staff(), DrawOptions(n=8), seed=42)
    b = draw(list(reversed(pool())), list(reversed(staff())), DrawOptions(n=8), seed=42)
    assert a == b and len(a.items) == 8 and [i.seq for i in a.items] == list(range(1, 9))
    c = draw(pool(), staff(), DrawOptions(n=8), seed=43)
    assert [i.code for i in c.items] != [i.code for i in a.items]
    assert a.digest == pool_digest(groups_of(pool()), staff()) and a.digest != pool_digest(groups_of(pool(59)), staff())


@pytest.mark.parametrize("seed", range(20))
def test_two_distinct_inspectors_and_nobody_twice_while_enough(seed: int) -> None:
    result = draw(pool(), staff(10), DrawOptions(n=5), seed=seed)  # 10 inspectors for 5 × 2 places
    names = [u for i in result.items for u in (i.inspector1, i.inspector2)]
    assert len(names) == len(set(names)) == 10
    crowded = draw(pool(), staff(4), DrawOptions(n=6), seed=seed)  # 4 inspectors for 12 places: 3 each
    assert all(i.inspector1 != i.inspector2 for i in crowded.items)
    assert set(Counter(u for i in crowded.items for u in (i.inspector1, i.inspector2)).values()) == {3}


@pytest.mark.parametrize(("candidate", "inspector", "ok"), [
    (Candidate("E1", "red", WEIDU + "1."), Inspector("a", WEIDU), True),
    (Candidate("E1", "red", WEIDU + "1."), Inspector("a", CITY), True),  # a city inspector covers the district
    (Candidate("E1", "red", WEIDU + "1."), Inspector("a", JIANAN), False),  # another district
    (Candidate("E1", "red", WEIDU + "1.", frozenset({"a"})), Inspector("a", WEIDU), False),  # own grid / 回避
])
def test_eligibility(candidate: Candidate, inspector: Inspector, ok: bool) -> None:
    assert eligible(candidate, inspector) is ok


def test_excluded_and_out_of_scope_inspectors_never_drawn() -> None:
    people = [*staff(3), Inspector("far", JIANAN)]
    candidates = [Candidate(c.code, c.risk_level, c.path, frozenset({"insp00"}) if i % 2 else frozenset())
                  for i, c in enumerate(pool(40))]
    by_code = {c.code: c for c in candidates}
    for seed in range(30):
        for item in draw(candidates, people, DrawOptions(n=10), seed=seed).items:
            assert "far" not in (item.inspector1, item.inspector2)
            assert not {item.inspector1, item.inspector2} & by_code[item.code].excluded


def test_enterprises_without_two_eligible_inspectors_are_set_aside() -> None:
    candidates = [*pool(10), Candidate("X0001", "red", JIANAN + "1.")]  # only one inspector covers 建安区
    result = draw(candidates, [*staff(2), Inspector("j1", JIANAN)], DrawOptions(n=50), seed=1)
    assert result.unstaffed == 1 and result.pool_size == 10 and len(result.items) == 10
    assert "X0001" not in {i.code for i in result.items}
    with pytest.raises(DrawError):
        draw(pool(5), staff(1), DrawOptions(n=2), seed=1)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_minimum_share_of_red_and_orange(share: float) -> None:
    for seed in range(15):
        result = draw(pool(100), staff(), DrawOptions(n=10, min_high_share=share), seed=seed)
        assert result.high_drawn >= round(share * 10)
    few_high = pool(100)[:7]  # E0000..E0006: red, orange, yellow, blue, None, red, orange → 4 high
    assert draw(few_high, staff(), DrawOptions(n=6, min_high_share=1.0), seed=3).high_drawn == 4


def test_risk_weighting_favours_red() -> None:
    reds_plain = reds_weighted = 0
    for seed in range(300):
        reds_plain += sum(i.code in RED for i in draw(pool(), staff(), DrawOptions(n=3), seed=seed).items)
        reds_weighted += sum(i.code in RED for i in draw(pool(), staff(), DrawOptions(n=3, weighting="risk"),
                                                         seed=seed).items)
    assert reds_weighted > reds_plain * 1.5


RED = {c.code for c in pool() if c.risk_level == "red"}


@pytest.mark.parametrize("options", [
    DrawOptions(n=0), DrawOptions(n=1001), DrawOptions(n=5, weighting="size"),
    DrawOptions(n=5, min_high_share=1.5), DrawOptions(n=5, min_high_share=-0.1),
])
def test_bad_options_refused(options: DrawOptions) -> None:
    with pytest.raises(DrawError):
        draw(pool(), staff(), options, seed=1)


def test_options_round_trip_and_bad_seed() -> None:
    options = DrawOptions(n=7, weighting="risk", min_high_share=0.3)
    assert options_from(options.as_dict()) == options
    with pytest.raises(DrawError):
        draw(pool(), staff(), options, seed=-1)
    assert len(draw(pool(3), staff(), DrawOptions(n=10), seed=5).items) == 3  # n larger than the pool: all of it


def test_eligible_lists_agree_with_the_rule() -> None:
    from domain.draws import _staff

    people = [*staff(3), Inspector("city", CITY), Inspector("far", JIANAN), Inspector("odd", WEIDU + "1")]
    candidates = [Candidate(c.code, c.risk_level, c.path, frozenset({"insp01"}) if i % 4 == 0 else frozenset())
                  for i, c in enumerate(pool(30))] + [Candidate("J1", "red", JIANAN + "7.")]
    by_rule = {c.code: sorted(i.username for i in people if eligible(c, i)) for c in candidates}
    assert _staff(candidates, people) == by_rule


@pytest.mark.parametrize(("text", "seed", "expected"), [  # PostgreSQL 15: SELECT hashtextextended(text, seed)
    ("91411002DR0000001X", 12345, 1621919727060147968), ("", 0, -6939563903564495251),
    ("a", 1, 3325245193489759299), ("abcdefghijkl", 7, -9039814575907250350),
    ("许昌市魏都区", 4611686018427387909, -631893654342099028), ("91411002DR0000001X", 0, 3244812847791828082),
])
def test_sample_hash_is_postgresql_hashtextextended(text: str, seed: int, expected: int) -> None:
    assert sample_hash(text, seed) == expected


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("colour", COLOURS)
def test_hash_bound_lets_every_key_below_the_bound_through(weighted: bool, colour: str | None) -> None:
    for bound in (0.001, 0.05, 0.7, 3.0):
        edge = hash_bound(bound, colour, weighted)
        for h in range(edge - 3000, edge + 3000, 7):
            if sample_key(h, colour, weighted) < bound:
                assert h >= edge


@pytest.mark.parametrize("options", [DrawOptions(n=7), DrawOptions(n=9, weighting="risk"),
                                     DrawOptions(n=12, weighting="risk", min_high_share=0.5),
                                     DrawOptions(n=5, min_high_share=1.0)])
def test_a_bounded_sample_draws_as_the_whole_pool(options: DrawOptions) -> None:
    """What the database hands over (the candidates below the bounds) gives the draw of the whole pool."""
    candidates = pool(600)
    people = staff()
    for seed in range(12):
        whole = draw(candidates, people, options, seed)
        counts: Counter[str | None] = Counter(c.risk_level for c in candidates)
        bound = bounds_for(counts, options)
        ranked = [Ranked(c, h) for c in candidates if (h := sample_hash(c.code, seed)) >= hash_bound(
            bound[c.risk_level], c.risk_level, options.weighted)]
        assert len(ranked) < len(candidates)
        assert draw_sampled(Sample(tuple(groups_of(candidates)), tuple(ranked), bound), people, options, seed) == whole
        too_few = Sample(tuple(groups_of(candidates)), tuple(ranked[:3]), dict.fromkeys(COLOURS, 1e-6))
        with pytest.raises(NeedMoreCandidatesError):
            draw_sampled(too_few, people, options, seed)
