"""Streamlit widgets of the "Meeting record" page (pages/record.py): commentary and assurance,
actions, the scrutiny panel's case reviews and the learning log.

Audience rules (checked here, on every rerun, from ``ui.access``):

- **internal**: everything, and every write (the author is ``Access.user``);
- **panel** (a share link): only the commentary and assurance levels of the link's force and
  window, without authors; no actions, no case reviews, no case ids, no forms. Panel code
  never calls a repository read that returns case data.

Writes go through ``metrics.record`` (audited there); a write that would overwrite someone
else's newer change is refused with "changed by someone else, reload" and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from metrics.record import (
    ASSURANCE,
    COMMENT_GUIDANCE,
    MAX_COMMENT,
    THEMES,
    Record,
    RecordConflict,
    RecordError,
    RecordUnavailable,
    draw_sample,
    month,
    nominate_case,
    record_kpis,
)
from metrics.registry import PILLARS
from ui.access import escape_md

ALL_FORCES = "All forces"
_FLASH = "_rec_flash"
_SEEN_COMMENT = "_rec_seen_comment"
_SEEN_ACTIONS = "_rec_seen_actions"
STATUS_WORDS = {"open": "Open", "done": "Done", "dropped": "Dropped"}


def _open(url: str | None = None) -> Record:
    """The server's one shared Record (``ui.data.open_meeting_record``: one engine and
    connection pool per database URL). ``url`` is ignored (kept for callers)."""
    from ui.data import open_meeting_record

    return open_meeting_record()  # type: ignore[return-value]


def get_record() -> Record | None:
    """The meeting record of ``$FLIGHTDECK_DB`` (migrated), or None after showing why not."""
    try:
        return _open()
    except RecordUnavailable as exc:
        st.error(f"The meeting record cannot be opened: {escape_md(exc)}. Ask the "
                 "administrator to check FLIGHTDECK_DB.", icon=":material/database:")
        return None


def _may_write(ctx: Any) -> bool:
    """Only internal users write (defence in depth: a panel session never gets a form)."""
    if getattr(ctx.access, "is_internal", False):
        return True
    _flash("error", "The meeting record is read-only on a panel link.")
    return False


def _flash(kind: str, text: str) -> None:
    st.session_state[_FLASH] = (kind, text)


def _saved(write: Callable[[], Any], *, failed: str = "Not saved", done: str | None = None,
           clear: Sequence[str] = ()) -> tuple[bool, Any]:
    """Run one record write of a form callback. Returns (True, what ``write()`` returned)
    after emptying the text widgets named in ``clear`` and leaving ``done`` (if given) as a
    success message; or (False, None) after leaving the message why: a newer change by
    someone else (``RecordConflict``: a warning to reload) or a refused entry
    (``RecordError``: an error "``failed``: reason.")."""
    try:
        result = write()
    except RecordConflict as exc:
        _flash("warning", str(exc))
        return False, None
    except RecordError as exc:
        _flash("error", f"{failed}: {exc}.")
        return False, None
    for key in clear:
        st.session_state[key] = ""
    if done is not None:
        _flash("success", done)
    return True, result


def show_flash() -> None:
    """Show (once) the message the last write left."""
    flash = st.session_state.pop(_FLASH, None)
    if flash is None:
        return
    kind, text = flash
    getattr(st, kind)(escape_md(text))


def _when(moment: Any) -> str:
    return pd.Timestamp(moment).strftime("%d %b %Y %H:%M UTC") if moment is not None else ""


def _kpi_names(ctx: Any) -> dict[str, str]:
    names = {k.id: k.name for k in ctx.kpis}
    names.setdefault("panel_nfa_decision_sound", "Panel: NFA decisions found sound")
    names.setdefault("open_learning_actions", "Panel: open learning actions")
    return names


def comments_table(record: Record, force: str, start: object, end: object,
                   names: dict[str, str], *, with_authors: bool) -> pd.DataFrame:
    """The latest commentary per KPI for the view as a table (``with_authors`` False for a
    panel: no author column). Columns: measure, owner, assurance, commentary, recorded (+
    author)."""
    latest = record.latest_comments(force, start, end)
    rows = []
    for kpi_id, comment in sorted(latest.items(), key=lambda kv: names.get(kv[0], kv[0])):
        row = {"measure": names.get(kpi_id, kpi_id), "owner": comment.owner,
               "assurance": comment.assurance_label, "commentary": comment.text,
               "recorded": _when(comment.created_at)}
        if with_authors:
            row["author"] = comment.author
        rows.append(row)
    columns = ["measure", "owner", "assurance", "commentary", "recorded"]
    return pd.DataFrame(rows, columns=columns + (["author"] if with_authors else []))


def render_panel(ctx: Any, record: Record) -> None:
    """The panel's view: commentary and assurance for the link's force and window only."""
    st.write("What the force's performance meeting concluded about each measure for this "
             "period, and how assured it is. Case reviews are not shared.")
    table = comments_table(record, ctx.view.force, ctx.start, ctx.end, _kpi_names(ctx),
                           with_authors=False)
    if table.empty:
        st.info("No commentary has been recorded for this force and period.")
        return
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"commentary": st.column_config.TextColumn(width="large")})


# --------------------------------------------------------------------------- commentary


def _add_comment(record: Record, ctx: Any, kpi_id: str, seen: Any) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    kwargs = {} if seen is ... else {"based_on": seen}
    _saved(lambda: record.add_comment(
        ctx.view.force, ctx.start, ctx.end, kpi_id, owner=state.get("rec_c_owner", ""),
        text=state.get("rec_c_text", ""), assurance=state.get("rec_c_assurance", ""),
        author=ctx.access.user, **kwargs), clear=("rec_c_text",), done="Commentary saved.")


def render_commentary(ctx: Any, record: Record) -> None:
    """Commentary and assurance per KPI for the view: the current entries, one KPI's history
    and the form to add an entry."""
    names = _kpi_names(ctx)
    table = comments_table(record, ctx.view.force, ctx.start, ctx.end, names,
                           with_authors=True)
    if table.empty:
        st.info("No commentary yet for this force and window.")
    else:
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"commentary": st.column_config.TextColumn(width="large")})
    ids = list(names)
    default = ctx.view.kpi if ctx.view.kpi in names else ids[0]
    kpi_id = st.selectbox("Measure", ids, index=ids.index(default), format_func=names.get,
                          key="rec_c_kpi")
    history = record.comment_history(ctx.view.force, kpi_id, window_start=ctx.start,
                                     window_end=ctx.end)
    if history:
        latest = history[0]
        st.markdown(f"**Latest: {escape_md(latest.assurance_label)}** · owner "
                    f"{escape_md(latest.owner)} · {escape_md(latest.author)}, "
                    f"{_when(latest.created_at)}")
        st.markdown(escape_md(latest.text))
    else:
        st.caption("No commentary on this measure for this force and window yet.")
    seen_before = st.session_state.get(_SEEN_COMMENT, {}).get(kpi_id, ...)
    st.session_state.setdefault(_SEEN_COMMENT, {})[kpi_id] = history[0].id if history else None
    if history:
        with st.expander(f"History of this measure's commentary ({len(history)} entries)"):
            st.dataframe(pd.DataFrame([{
                "recorded": _when(c.created_at), "assurance": c.assurance_label,
                "owner": c.owner, "commentary": c.text, "author": c.author}
                for c in history]), hide_index=True, width="stretch")
    with st.form("rec_comment_form", clear_on_submit=False, border=True):
        st.caption(COMMENT_GUIDANCE)
        st.text_input("Owner (a role, e.g. Head of crime)", key="rec_c_owner",
                      value=history[0].owner if history else "", max_chars=120)
        st.radio("Assurance", list(ASSURANCE), format_func=ASSURANCE.get, horizontal=True,
                 key="rec_c_assurance")
        st.text_area(f"Commentary (at most {MAX_COMMENT:,} characters)", key="rec_c_text",
                     max_chars=MAX_COMMENT, height=120)
        st.form_submit_button("Save commentary", type="primary", on_click=_add_comment,
                              args=(record, ctx, kpi_id, seen_before))


def history_expander(access: Any, force: str, kpi_id: str, *,
                     label: str = "Meeting commentary on this measure") -> None:
    """For other pages (e.g. Trends): an expander with every commentary entry on ``kpi_id``
    for ``force``, newest first, across windows. Internal audience only (a panel gets
    nothing: its commentary is on the record page, for its window). Silent when the record
    cannot be opened or holds nothing for the measure."""
    if not getattr(access, "is_internal", False):
        return
    try:
        record = _open()
    except RecordUnavailable:
        return
    history = record.comment_history(force, kpi_id)
    if not history:
        return
    with st.expander(f"{label} ({len(history)})", icon=":material/edit_note:"):
        st.dataframe(pd.DataFrame([{
            "window": f"{c.window_start} to {c.window_end}", "recorded": _when(c.created_at),
            "assurance": c.assurance_label, "owner": c.owner, "commentary": c.text,
            "author": c.author} for c in history]), hide_index=True, width="stretch")


# --------------------------------------------------------------------------- actions


def _target_options(ctx: Any) -> dict[str, str]:
    options = {f"pillar:{n}": f"Pillar {n}: {name}" for n, name in PILLARS.items()}
    options.update({f"kpi:{k}": name for k, name in _kpi_names(ctx).items()})
    return options


def _add_action(record: Record, ctx: Any) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    target = str(state.get("rec_a_target", ""))
    kind, _, value = target.partition(":")
    _saved(lambda: record.add_action(
        ctx.view.force, text=state.get("rec_a_text", ""), owner=state.get("rec_a_owner", ""),
        due_date=state.get("rec_a_due"), author=ctx.access.user,
        kpi_id=value if kind == "kpi" else None,
        pillar=int(value) if kind == "pillar" else None),
        clear=("rec_a_text",), done="Action recorded.")


def _set_status(record: Record, ctx: Any) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    action_id = state.get("rec_s_action")
    seen = state.get(_SEEN_ACTIONS, {})
    if action_id is None or action_id not in seen:
        _flash("warning", "Choose an action first.")
        return
    _saved(lambda: record.set_action_status(
        int(action_id), state.get("rec_s_status", "done"), version=seen[action_id],
        author=ctx.access.user), done="Action updated.")


def actions_table(actions: list[Any], names: dict[str, str], today: date) -> pd.DataFrame:
    """Actions as a table: id, for (KPI or pillar), action, owner, due, status, overdue."""
    rows = [{
        "id": a.id,
        "for": names.get(a.kpi_id, a.kpi_id) if a.kpi_id else f"Pillar {a.pillar}",
        "action": a.text, "owner": a.owner, "due": a.due_date,
        "status": STATUS_WORDS.get(a.status, a.status),
        "overdue": "overdue" if a.overdue(today) else "",
        "kind": a.kind,
    } for a in actions]
    return pd.DataFrame(rows, columns=["id", "for", "action", "owner", "due", "status",
                                       "overdue", "kind"])


def render_actions(ctx: Any, record: Record) -> None:
    """The force's actions (open first, overdue flagged), the add form and the status form."""
    today = date.today()
    actions = record.actions(ctx.view.force)
    actions.sort(key=lambda a: (a.status != "open", a.due_date))
    st.session_state[_SEEN_ACTIONS] = {a.id: a.version for a in actions}
    names = _kpi_names(ctx)
    open_count = sum(a.status == "open" for a in actions)
    late = sum(a.overdue(today) for a in actions)
    st.write(f"{open_count} open, {late} overdue.")
    if actions:
        st.dataframe(actions_table(actions, names, today), hide_index=True, width="stretch")
    options = _target_options(ctx)
    with st.form("rec_action_form", border=True):
        st.selectbox("For", list(options), format_func=options.get, key="rec_a_target")
        st.text_input("What was agreed", key="rec_a_text", max_chars=2000)
        left, right = st.columns(2)
        left.text_input("Owner (a role)", key="rec_a_owner", max_chars=120)
        right.date_input("Due", value=today + timedelta(days=28), key="rec_a_due",
                         format="YYYY-MM-DD")
        st.form_submit_button("Record action", on_click=_add_action, args=(record, ctx))
    if actions:
        with st.form("rec_status_form", border=True):
            labels = {a.id: f"#{a.id} {a.text[:60]}" for a in actions}
            st.selectbox("Action", list(labels), format_func=labels.get, key="rec_s_action")
            st.radio("New status", ["done", "dropped", "open"], format_func=STATUS_WORDS.get,
                     horizontal=True, key="rec_s_status")
            st.form_submit_button("Update status", on_click=_set_status, args=(record, ctx))


# --------------------------------------------------------------------------- case reviews


def _draw(record: Record, ctx: Any) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    seed_text = str(state.get("rec_r_seed", "")).strip()
    try:
        seed = int(seed_text) if seed_text else None
    except ValueError:
        _flash("error", "The seed must be a whole number (or empty for a fresh one).")
        return
    ok, drawn = _saved(lambda: draw_sample(
        record, ctx.dataset, ctx.view.force, ctx.start, ctx.end,
        size=int(state.get("rec_r_size", 10)), seed=seed, author=ctx.access.user),
        failed="No sample drawn")
    if not ok:
        return
    sample_id, sample = drawn
    state["rec_r_sample"] = sample_id
    _flash("success", f"Sample {sample_id} drawn: {len(sample)} cases.")


def _nominate(record: Record, ctx: Any, sample_id: int) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    _saved(lambda: nominate_case(
        record, sample_id, str(state.get("rec_n_case", "")), source=ctx.dataset,
        nominated_by=str(state.get("rec_n_by", ""))), failed="Not added",
        clear=("rec_n_case",), done="Nominated case added.")


def _review(record: Record, ctx: Any) -> None:
    if not _may_write(ctx):
        return
    state = st.session_state
    case = state.get("rec_v_case")
    if case is None:
        _flash("warning", "Choose a case first.")
        return
    action = None
    if str(state.get("rec_v_action", "")).strip():
        action = {"text": state.get("rec_v_action"), "owner": state.get("rec_v_owner", ""),
                  "due_date": state.get("rec_v_due")}
    ok, _ = _saved(lambda: record.add_review(
        int(case), decision_sound=state.get("rec_v_sound") == "yes",
        themes=[t for t in THEMES if state.get(f"rec_v_theme_{t}")],
        learning_point=state.get("rec_v_point", ""), reviewer=ctx.access.user,
        learning_action=action), clear=("rec_v_point", "rec_v_action"), done="Review saved.")
    if ok:
        for theme in THEMES:
            state[f"rec_v_theme_{theme}"] = False


def render_reviews(ctx: Any, record: Record) -> None:
    """Draw a sample of NFA cases, add ISVA nominations and record each case's review
    (internal audience only: this shows case ids)."""
    if not ctx.access.is_internal:  # defence in depth: the page never calls this for a panel
        return
    if ctx.view.force == ALL_FORCES:
        st.info("Choose a force in the sidebar: scrutiny panels review one force's cases.")
        return
    st.caption("Internal only: case ids are shown here and never on a panel link. The sample "
               "is stratified by offence group and outcome code with proportional allocation; "
               "the seed is stored so the draw can be repeated.")
    with st.form("rec_sample_form", border=True):
        left, right = st.columns(2)
        left.number_input("Cases to sample", min_value=1, max_value=500, value=10, step=1,
                          key="rec_r_size")
        right.text_input("Seed (empty: a fresh one)", key="rec_r_seed", max_chars=10)
        st.form_submit_button("Draw sample of NFA cases", on_click=_draw, args=(record, ctx))
    samples = record.samples(ctx.view.force)
    samples = samples[(samples["window_start"] == month(ctx.start))
                      & (samples["window_end"] == month(ctx.end))]
    if samples.empty:
        st.write("No sample drawn for this force and window yet.")
        return
    labels = {int(r["id"]): f"Sample {int(r['id'])}: {int(r['size_requested'])} of "
                            f"{int(r['population'])} NFA cases, seed {int(r['seed'])}, drawn "
                            f"{_when(r['drawn_at'])}" for _, r in samples.iterrows()}
    ids = list(labels)
    if st.session_state.get("rec_r_sample") not in ids:
        st.session_state["rec_r_sample"] = ids[0]
    sample_id = st.selectbox("Sample", ids, format_func=labels.get, key="rec_r_sample")
    cases = record.sample_cases(sample_id)
    shown = cases.assign(
        selection=cases.apply(lambda r: " and ".join(
            w for w, on in (("random", r["random"]), ("ISVA nominated", r["isva_nominated"]))
            if on), axis=1),
        reviewed=cases["reviewed"].map({True: "yes", False: ""}),
        decision_sound=cases["decision_sound"].map({True: "yes", False: "no"}).fillna(""))
    st.caption(f"{int(cases['reviewed'].sum())} of {len(cases)} cases reviewed; "
               f"{int(cases['isva_nominated'].sum())} nominated by an ISVA member.")
    st.dataframe(shown[["case_id", "offence_group", "outcome_code", "outcome_date",
                        "selection", "reviewed", "decision_sound"]],
                 hide_index=True, width="stretch")
    with st.form("rec_nominate_form", border=True):
        left, right = st.columns(2)
        left.text_input("Case id nominated by an ISVA member", key="rec_n_case", max_chars=120)
        right.text_input("Nominated by", key="rec_n_by", max_chars=200)
        st.form_submit_button("Add nominated case", on_click=_nominate,
                              args=(record, ctx, sample_id))
    case_labels = {int(r["sample_case_id"]): str(r["case_id"]) for _, r in cases.iterrows()}
    with st.form("rec_review_form", border=True):
        st.selectbox("Case", list(case_labels), format_func=case_labels.get, key="rec_v_case")
        st.write("Themes the panel raised")
        columns = st.columns(len(THEMES))
        for column, (theme, words) in zip(columns, THEMES.items(), strict=True):
            column.checkbox(words, key=f"rec_v_theme_{theme}")
        st.radio("Was the NFA decision sound?", ["yes", "no"], horizontal=True,
                 key="rec_v_sound")
        st.text_area("Learning point", key="rec_v_point", max_chars=2000, height=80,
                     help="Do not name victims, suspects or officers.")
        st.caption("Optional learning action (opens an action for the force).")
        a, b, c = st.columns([3, 1, 1])
        a.text_input("Learning action", key="rec_v_action", max_chars=2000)
        b.text_input("Owner", key="rec_v_owner", max_chars=120)
        c.date_input("Due", value=date.today() + timedelta(days=56), key="rec_v_due",
                     format="YYYY-MM-DD")
        st.form_submit_button("Save review", type="primary", on_click=_review,
                              args=(record, ctx))


def render_learning(ctx: Any, record: Record) -> None:
    """The record's two measures for the view and the learning log (downloadable CSV)."""
    if not ctx.access.is_internal:
        return
    from ui.downloads import download_buttons

    forces = None if ctx.view.force == ALL_FORCES else [ctx.view.force]
    measures = record_kpis(record, ctx.start, ctx.end, [ctx.view.force])
    names = _kpi_names(ctx)
    shown = measures.assign(measure=measures["kpi_id"].map(names))[
        ["measure", "value", "numerator", "denominator", "ci_low", "ci_high", "status"]]
    st.dataframe(shown, hide_index=True, width="stretch")
    log = record.learning_log(forces)
    if log.empty:
        st.write("No case reviews recorded yet.")
        return
    st.dataframe(log, hide_index=True, width="stretch")
    download_buttons(log, "learning_log", access=ctx.access, title="Learning log")


def render(ctx: Any) -> None:
    """The whole page body for this audience."""
    record = get_record()
    if record is None:
        return
    show_flash()
    if ctx.is_panel:
        render_panel(ctx, record)
        return
    tabs = st.tabs(["Commentary and assurance", "Actions", "Case reviews", "Learning log"])
    with tabs[0]:
        render_commentary(ctx, record)
    with tabs[1]:
        render_actions(ctx, record)
    with tabs[2]:
        render_reviews(ctx, record)
    with tabs[3]:
        render_learning(ctx, record)
