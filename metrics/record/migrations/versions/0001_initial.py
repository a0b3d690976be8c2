"""The meeting record's first schema: comments, actions, samples, sample cases, reviews.

Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the five tables (see metrics/record/models.py)."""
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("force", sa.String(120), nullable=False),
        sa.Column("window_start", sa.String(7), nullable=False),
        sa.Column("window_end", sa.String(7), nullable=False),
        sa.Column("kpi_id", sa.String(120), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("assurance", sa.String(20), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
    )
    op.create_index("ix_comments_view", "comments",
                    ["force", "window_start", "window_end", "kpi_id"])
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("force", sa.String(120), nullable=False),
        sa.Column("window_start", sa.String(7), nullable=False),
        sa.Column("window_end", sa.String(7), nullable=False),
        sa.Column("size_requested", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("drawn_by", sa.String(200), nullable=False),
        sa.Column("drawn_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_samples"),
    )
    op.create_index("ix_samples_force", "samples", ["force"])
    op.create_table(
        "sample_cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sample_id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(120), nullable=False),
        sa.Column("offence_group", sa.String(60), nullable=True),
        sa.Column("outcome_code", sa.Integer, nullable=True),
        sa.Column("outcome_date", sa.Date, nullable=True),
        sa.Column("stratum", sa.String(80), nullable=True),
        sa.Column("random", sa.Boolean, nullable=False),
        sa.Column("isva_nominated", sa.Boolean, nullable=False),
        sa.Column("nominated_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sample_cases"),
        sa.ForeignKeyConstraint(["sample_id"], ["samples.id"],
                                name="fk_sample_cases_sample_id_samples"),
        sa.UniqueConstraint("sample_id", "case_id", name="uq_sample_cases_case"),
    )
    op.create_index("ix_sample_cases_sample_id", "sample_cases", ["sample_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sample_case_id", sa.Integer, nullable=False),
        sa.Column("evidential_weakness", sa.Boolean, nullable=False),
        sa.Column("victim_engagement", sa.Boolean, nullable=False),
        sa.Column("suspect_focused_investigation", sa.Boolean, nullable=False),
        sa.Column("early_advice", sa.Boolean, nullable=False),
        sa.Column("digital_evidence", sa.Boolean, nullable=False),
        sa.Column("decision_sound", sa.Boolean, nullable=False),
        sa.Column("learning_point", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.ForeignKeyConstraint(["sample_case_id"], ["sample_cases.id"],
                                name="fk_reviews_sample_case_id_sample_cases"),
    )
    op.create_index("ix_reviews_sample_case_id", "reviews", ["sample_case_id"])
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("force", sa.String(120), nullable=False),
        sa.Column("kpi_id", sa.String(120), nullable=True),
        sa.Column("pillar", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("review_id", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"],
                                name="fk_actions_review_id_reviews"),
    )
    op.create_index("ix_actions_force", "actions", ["force"])


def downgrade() -> None:
    """Drop the five tables."""
    for table in ("actions", "reviews", "sample_cases", "samples", "comments"):
        op.drop_table(table)
