from fractions import Fraction

import pytest

from slt_bench.theory import deep_linear, mixture_zero, normal_crossing, reduced_rank, regular, tanh_zero

F = Fraction


def test_worked_values_from_theory_md():
    assert reduced_rank(3, 3, 3, 0) == (F(7, 2), 2)
    assert reduced_rank(3, 3, 3, 1) == (F(4), 1)
    assert reduced_rank(3, 3, 3, 3) == (F(9, 2), 1)
    assert deep_linear([3, 2, 2, 3], 0) == (F(2), 3)
    assert deep_linear([5, 4, 3, 4, 5], 1) == (F(7), 1)
    assert [tanh_zero(h) for h in (1, 2, 3, 4)] == [(F(1, 2), 2), (F(2, 3), 1), (F(5, 6), 1), (F(1), 2)]
    assert normal_crossing([1, 1]) == (F(1, 2), 2)
    assert normal_crossing([1, 1, 1]) == (F(1, 2), 3)
    assert normal_crossing([1, 3]) == (F(1, 6), 1)
    assert mixture_zero("free-weight") == (F(1, 2), 2)
    assert mixture_zero("fixed-weight") == (F(3, 4), 1)
    assert regular(7) == (F(7, 2), 1)


def test_values_are_fractions():
    lam, m = deep_linear([4, 3, 2, 3, 4], 1)
    assert isinstance(lam, Fraction) and isinstance(m, int)


def test_reduced_rank_seed_paper_sizes():
    # THEORY.md §5: λ = 4, 8, 29 for (3,3,3,1), (5,5,3,1), (10,10,5,2)
    assert [reduced_rank(*a)[0] for a in [(3, 3, 3, 1), (5, 5, 3, 1), (10, 10, 5, 2)]] == [4, 8, 29]


def test_reduced_rank_boundary_cases():
    assert reduced_rank(2, 6, 1, 1) == (F(7, 2), 1)  # M+H < N+r
    assert reduced_rank(6, 2, 1, 1) == (F(7, 2), 1)  # N+H < M+r
    assert reduced_rank(2, 2, 6, 1) == (F(2), 1)  # M+N < H+r: the whole matrix, MN/2


ALL_RRR = [(M, N, H, r) for M in range(1, 7) for N in range(1, 7) for H in range(1, 7) for r in range(min(M, N, H) + 1)]


@pytest.mark.parametrize("M,N,H,r", ALL_RRR)
def test_deep_linear_depth_two_is_reduced_rank(M, N, H, r):
    assert deep_linear([M, H, N], r) == reduced_rank(M, N, H, r)


@pytest.mark.parametrize("M,N,H,r", ALL_RRR)
def test_reduced_rank_symmetric_in_input_output(M, N, H, r):
    assert reduced_rank(M, N, H, r) == reduced_rank(N, M, H, r)


@pytest.mark.parametrize("M,N,H,r", ALL_RRR)
def test_rrr_bounded_by_regular_count(M, N, H, r):
    lam, _ = reduced_rank(M, N, H, r)
    assert 0 < lam <= F(H * (M + N), 2) and lam <= F(M * N, 2) + F(H * (M + N), 2)


def test_full_rank_truth_is_a_manifold():
    for M in range(1, 7):
        for N in range(1, 7):
            for H in range(1, min(M, N) + 1):
                assert reduced_rank(M, N, H, H) == (F(H * (M + N) - H * H, 2), 1)


def test_deep_linear_wide_hidden_layers_give_the_trivial_value():
    for r in range(3):
        assert deep_linear([2, 9, 9, 2], r) == (F(2), 1)


def test_deep_linear_depth_symmetry():
    assert deep_linear([3, 1, 2, 3], 0) == deep_linear([3, 2, 1, 3], 0)


def test_tanh_non_square_and_square():
    assert tanh_zero(5) == (F(11, 10), 1)
    assert tanh_zero(9) == (F(9 + 9 + 3, 14), 2)


def test_normal_crossing_prior_exponent_and_zero_exponents():
    assert normal_crossing([1, 1], [1, 0]) == (F(1, 2), 1)
    assert normal_crossing([1, 1], [1, 1]) == (F(1), 2)
    assert normal_crossing([0, 2]) == (F(1, 4), 1)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: reduced_rank(3, 3, 3, 4), "r must satisfy"),
        (lambda: reduced_rank(-1, 3, 3, 0), "M must be an integer >= 1"),
        (lambda: deep_linear([3], 0), "at least two"),
        (lambda: deep_linear([3, 2, 3], 3), "r must satisfy"),
        (lambda: normal_crossing([0, 0]), "at least one k_j > 0"),
        (lambda: normal_crossing([1, 1], [1]), "same length"),
        (lambda: tanh_zero(0), "H must be an integer >= 1"),
        (lambda: regular(0), "d must be"),
        (lambda: mixture_zero("three"), "free-weight, fixed-weight"),
    ],
)
def test_invalid_arguments_say_what_is_allowed(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
