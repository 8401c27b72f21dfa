"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:43:43.800886
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_mutes',
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('muted_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_alert_mutes'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('baseline_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_count', sa.Integer(), nullable=False),
    sa.Column('window_negative', sa.Integer(), nullable=False),
    sa.Column('baseline_count', sa.Integer(), nullable=False),
    sa.Column('baseline_negative', sa.Integer(), nullable=False),
    sa.Column('observed_share', sa.Float(), nullable=False),
    sa.Column('baseline_share', sa.Float(), nullable=False),
    sa.Column('peak_share', sa.Float(), nullable=False),
    sa.Column('statistic', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('examples', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index('ix_alerts_scope_opened_at', 'alerts', ['scope', 'opened_at'], unique=False)
    op.create_index(op.f('ix_alerts_status'), 'alerts', ['status'], unique=False)
    op.create_index('uq_alerts_one_open_per_scope', 'alerts', ['scope'], unique=True, postgresql_where=sa.text("status = 'open'"))
    op.create_table('articles',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=512), nullable=True),
    sa.Column('source', sa.String(length=256), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('lang', sa.String(length=16), nullable=True),
    sa.Column('tickers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kafka_topic', sa.String(length=256), nullable=False),
    sa.Column('kafka_partition', sa.Integer(), nullable=False),
    sa.Column('kafka_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('external_id', name=op.f('uq_articles_external_id')),
    sa.UniqueConstraint('kafka_topic', 'kafka_partition', 'kafka_offset', name=op.f('uq_articles_kafka_topic_kafka_partition_kafka_offset'))
    )
    op.create_index('ix_articles_event_time', 'articles', ['event_time'], unique=False)
    op.create_index('ix_articles_source_event_time', 'articles', ['source', 'event_time'], unique=False)
    op.create_table('training_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('n_base_examples', sa.Integer(), nullable=True),
    sa.Column('n_labels', sa.Integer(), nullable=True),
    sa.Column('n_new_labels', sa.Integer(), nullable=True),
    sa.Column('candidate_version', sa.String(length=128), nullable=True),
    sa.Column('champion_version', sa.String(length=128), nullable=True),
    sa.Column('candidate_scores', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('champion_scores', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_runs'))
    )
    op.create_index(op.f('ix_training_runs_status'), 'training_runs', ['status'], unique=False)
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('topics', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=128), nullable=False),
    sa.Column('model_version', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('messages_stored', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('messages_dead_lettered', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('texts_per_second', sa.Float(), nullable=True),
    sa.Column('lag', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('labels',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('article_id', sa.BigInteger(), nullable=True),
    sa.Column('topic', sa.String(length=128), nullable=True),
    sa.Column('sentiment', sa.String(length=32), nullable=True),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('used_by_run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_labels_article_id_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['used_by_run_id'], ['training_runs.id'], name=op.f('fk_labels_used_by_run_id_training_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_labels_dedupe_key'))
    )
    op.create_index(op.f('ix_labels_article_id'), 'labels', ['article_id'], unique=False)
    op.create_index(op.f('ix_labels_created_at'), 'labels', ['created_at'], unique=False)
    op.create_index(op.f('ix_labels_used_by_run_id'), 'labels', ['used_by_run_id'], unique=False)
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('training_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['training_run_id'], ['training_runs.id'], name=op.f('fk_model_versions_training_run_id_training_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_model_versions_version'))
    )
    op.create_index('uq_model_versions_one_champion', 'model_versions', ['status'], unique=True, postgresql_where=sa.text("status = 'champion'"))
    op.create_table('predictions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('article_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version', sa.String(length=128), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('topic_confidence', sa.Float(), nullable=False),
    sa.Column('sentiment', sa.String(length=32), nullable=False),
    sa.Column('sentiment_confidence', sa.Float(), nullable=False),
    sa.Column('p_negative', sa.Float(), nullable=False),
    sa.Column('p_neutral', sa.Float(), nullable=False),
    sa.Column('p_positive', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_predictions_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('article_id', 'model_version', name=op.f('uq_predictions_article_id_model_version'))
    )
    op.create_index(op.f('ix_predictions_article_id'), 'predictions', ['article_id'], unique=False)
    op.create_index(op.f('ix_predictions_model_version'), 'predictions', ['model_version'], unique=False)
    op.create_index(op.f('ix_predictions_topic'), 'predictions', ['topic'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('webhook_id', sa.String(length=64), nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=True),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_webhook_deliveries_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('webhook_id', name=op.f('uq_webhook_deliveries_webhook_id'))
    )
    op.create_index(op.f('ix_webhook_deliveries_alert_id'), 'webhook_deliveries', ['alert_id'], unique=False)
    op.create_index(op.f('ix_webhook_deliveries_endpoint_id'), 'webhook_deliveries', ['endpoint_id'], unique=False)
    op.create_index('ix_webhook_deliveries_status_next_attempt_at', 'webhook_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_table('webhook_attempts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    op.create_index(op.f('ix_webhook_attempts_delivery_id'), 'webhook_attempts', ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_webhook_attempts_delivery_id'), table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_status_next_attempt_at', table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_endpoint_id'), table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_alert_id'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_predictions_topic'), table_name='predictions')
    op.drop_index(op.f('ix_predictions_model_version'), table_name='predictions')
    op.drop_index(op.f('ix_predictions_article_id'), table_name='predictions')
    op.drop_table('predictions')
    op.drop_index('uq_model_versions_one_champion', table_name='model_versions', postgresql_where=sa.text("status = 'champion'"))
    op.drop_table('model_versions')
    op.drop_index(op.f('ix_labels_used_by_run_id'), table_name='labels')
    op.drop_index(op.f('ix_labels_created_at'), table_name='labels')
    op.drop_index(op.f('ix_labels_article_id'), table_name='labels')
    op.drop_table('labels')
    op.drop_table('worker_heartbeats')
    op.drop_table('webhook_endpoints')
    op.drop_index(op.f('ix_training_runs_status'), table_name='training_runs')
    op.drop_table('training_runs')
    op.drop_index('ix_articles_source_event_time', table_name='articles')
    op.drop_index('ix_articles_event_time', table_name='articles')
    op.drop_table('articles')
    op.drop_index('uq_alerts_one_open_per_scope', table_name='alerts', postgresql_where=sa.text("status = 'open'"))
    op.drop_index(op.f('ix_alerts_status'), table_name='alerts')
    op.drop_index('ix_alerts_scope_opened_at', table_name='alerts')
    op.drop_table('alerts')
    op.drop_table('alert_mutes')
