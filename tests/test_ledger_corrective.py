"""The Dublin IV corrective allocation: triggers, allocations and payments computed by hand on tiny
registrations, then the shipped year of registrations through `relocate corrective`."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import INPUTS, relocate

from optimizer.ledger import open_ledger, simulate

D = dt.date


def _registrations(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["date", "state", "persons"])
    frame.insert(0, "id", [f"r{i + 1}" for i in range(len(frame))])
    return frame


def test_triggers_and_allocations_by_hand():
    """Keys A 0.5, B 0.3, C 0.2, one person per registration unless said.
    r1 A: nothing registered yet, no reference: stays in A (A 1).
    r2 A: reference of A 0.5 x 1, A has 1: 200% > 150%: A enters; the eligible B (0%) and C (0%)
       compare (0 + 1) / 0.3 = 3.33 and (0 + 1) / 0.2 = 5: B takes it (B 1).
    r3 A, 2 persons: 1 / (0.5 x 2) = 100%: A leaves; stays (A 3).
    r4 A: 3 / (0.5 x 4) = 150% exactly, not above: stays (A 4).
    r5 A: 4 / 2.5 = 160%: A enters; B is at 1 / 1.5 = 67%, C at 0%, both eligible;
       (1 + 1) / 0.3 = 6.67 against (0 + 1) / 0.2 = 5: C takes it (C 1).
    """
    regs = _registrations([(D(2024, 1, 1), "A", 1), (D(2024, 1, 2), "A", 1), (D(2024, 1, 3), "A", 2), (D(2024, 1, 4), "A", 1), (D(2024, 1, 5), "A", 1)])
    result = simulate(regs, pd.Series({"A": 0.5, "B": 0.3, "C": 0.2}))
    r = result.registrations
    assert r["allocated_to"].tolist() == ["", "B", "", "", "C"]
    assert r["ratio_at_lodging"].tolist() == pytest.approx([0.0, 2.0, 1.0, 1.5, 1.6])
    assert result.events[["state", "event"]].values.tolist() == [["A", "enters"], ["A", "leaves"], ["A", "enters"]]
    s = result.states.set_index("code")
    assert s["lodged"].tolist() == [6, 0, 0]
    assert s["allocated_away"].tolist() == [2, 0, 0] and s["received"].tolist() == [0, 1, 1]
    assert s["responsible_in_period"].tolist() == [4, 1, 1]
    assert s["triggers"].tolist() == [2, 0, 0]
    assert result.payments.empty


def test_the_rolling_period_forgets_old_registrations():
    """The period is the 365 days up to and including the day. r1 A 3 persons on 1 Jan 2024; r2 A on
    30 Dec 2024 (365th day counting 1 Jan) still sees r1: 3 / (0.5 x 3) = 200%, allocated to B.
    r3 A on 31 Dec 2024: r1 has left the period, which holds only B's 1: A at 0% stays."""
    regs = _registrations([(D(2024, 1, 1), "A", 3), (D(2024, 12, 30), "A", 1), (D(2024, 12, 31), "A", 1)])
    result = simulate(regs, pd.Series({"A": 0.5, "B": 0.5}))
    assert result.registrations["allocated_to"].tolist() == ["", "B", ""]
    assert result.registrations["ratio_at_lodging"].tolist() == pytest.approx([0.0, 2.0, 0.0])


def test_an_opted_out_state_pays_for_each_applicant_it_does_not_accept():
    """Keys A 0.2, B 0.3, C 0.5; C opted out on 1 Jan 2024.
    r2 A: 1 / 0.2 = 500%; C's turn ((0 + 1) / 0.5 = 2 < 3.33), C refuses, B takes it: C pays B
       EUR 250,000.
    r3 A: 1 / 0.4 = 250%; B is at 1 / 0.6 = 167%, not eligible; C's turn again ((1 + 1) / 0.5),
       C refuses, nobody else is eligible: the applicant stays in A, and C pays A.
    r4 A, 2 persons, on 1 Jan 2025, after C's 12 months: the period (from 3 Jan 2024) holds r3's
       1 in A: 1 / (0.2 x 1) = 500%; B counts its 1 taken, C its 2 turns: (1 + 2) / 0.3 = 10
       against (2 + 2) / 0.5 = 8: C (now open) takes both."""
    regs = _registrations([(D(2024, 1, 1), "A", 1), (D(2024, 1, 2), "A", 1), (D(2024, 1, 3), "A", 1), (D(2025, 1, 1), "A", 2)])
    result = simulate(regs, pd.Series({"A": 0.2, "B": 0.3, "C": 0.5}), {"C": D(2024, 1, 1)})
    assert result.registrations["allocated_to"].tolist() == ["", "B", "", "C"]
    assert result.registrations["refused_by"].tolist() == ["", "C", "C", ""]
    assert result.payments[["payer", "payee", "persons", "amount_eur"]].values.tolist() == [["C", "B", 1, 250000.0], ["C", "A", 1, 250000.0]]
    s = result.states.set_index("code")
    assert s.loc["C", "pays_eur"] == 500000 and s.loc["C", "not_accepted"] == 2
    assert s.loc["A", "receives_eur"] == 250000 and s.loc["B", "receives_eur"] == 250000


def test_corrective_command_on_the_shipped_registrations(tmp_path, capsys):
    """The shipped illustrative year (3,000 registrations drawn by 2023 applications) with Poland
    opted out: recorded in a ledger with its payments, written to files, and undone."""
    db = tmp_path / "p.db"
    code, out, err = relocate(
        "corrective", INPUTS / "programme" / "registrations-2024.csv", "--states", INPUTS / "example_states_2023.csv",
        "--opt-out", "PL:2024-01-01", "--out", tmp_path / "c", "--ledger", db, "--batch", "dublin-2024", "--commit", capsys=capsys,
    )
    assert code == 0, err
    states = pd.read_csv(tmp_path / "c" / "corrective_states.csv").set_index("code")
    payments = pd.read_csv(tmp_path / "c" / "corrective_payments.csv")
    assert (payments["payer"] == "PL").all() and states.loc["PL", "received"] == 0
    assert states.loc["PL", "pays_eur"] == 250000 * states.loc["PL", "not_accepted"] > 0
    assert states["received"].sum() == states["allocated_away"].sum() > 0
    ledger = open_ledger(db)
    assert ledger.batches()["kind"].tolist() == ["corrective"]
    placed = ledger.placements()
    assert len(placed) == (pd.read_csv(tmp_path / "c" / "corrective_registrations.csv")["allocated_to"].notna()).sum()
    assert ledger.payments()["amount_eur"].sum() == payments["amount_eur"].sum()
    code, _, err = relocate("ledger", "undo", "dublin-2024", "--ledger", db, capsys=capsys)
    assert code == 0 and f"{len(payments)} payments" in err and ledger.payments().empty


@pytest.mark.parametrize(
    "content, message",
    [
        ("date,state,persons\n2024-13-01,AT,1\n", "row 2, column 'date': not a date of the form YYYY-MM-DD: '2024-13-01'"),
        ("date,state,persons\n2024-01-01,XX,1\n", "row 2, column 'state': unknown state code 'XX'"),
        ("date,state,persons\n2024-01-01,AT,1\n2024-01-01,AT,0\n", "row 3, column 'persons': persons must be at least 1"),
        ("date,state\n2024-01-01,AT\n", "missing required column 'persons'"),
    ],
)
def test_bad_registrations_name_the_row_and_column(tmp_path, capsys, content, message):
    path = tmp_path / "reg.csv"
    path.write_text(content)
    code, _, err = relocate("corrective", path, "--states", INPUTS / "example_states_2023.csv", "--out", tmp_path / "o", capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
