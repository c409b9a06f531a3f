"""A learner's practice recordings are theirs: listed in the export, gone (rows and files) with the account."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.models import Work
from practice.models import PracticeFeedback, PracticeSession
from practice.services import recording_path
from privacy.selectors import learner_data_export
from privacy.services import learner_account_delete
from tests.privacy.conftest import PASSWORD, make_learner


@pytest.fixture
def practised(settings, tmp_path):
    """A learner with one analysed practice session whose recording is stored under the artifacts."""
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path)
    user, _ = make_learner("clara", email="clara@example.org")
    work = Work.objects.create(
        slug="bwv-269", title="Aus meines Herzens Grunde", corpus_path="bach/bwv269", entity_id="leitmotif:work:bwv269"
    )
    relative = recording_path(user.pk, "ab" * 32, ".wav")
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_bytes(b"RIFF-recording")
    session = PracticeSession.objects.create(
        user=user, work=work, audio_path=str(relative), audio_sha256="ab" * 32, status=PracticeSession.Status.SUCCEEDED
    )
    PracticeFeedback.objects.create(session=session, overall=0.8, sentences=["Bar 3: F# played as F."])
    return user, session, tmp_path / relative


@pytest.mark.django_db(transaction=True)
def test_the_export_lists_each_practice_session_with_its_feedback(practised):
    user, session, _ = practised
    export = learner_data_export(user)
    [row] = export["practice_sessions"]
    assert row["id"] == session.pk and row["work"] == "Aus meines Herzens Grunde"
    assert row["feedback"]["sentences"] == ["Bar 3: F# played as F."]
    assert export["counts"]["practice.PracticeSession"] == 1


@pytest.mark.django_db(transaction=True)
def test_deleting_the_account_removes_the_sessions_their_feedback_and_the_recordings(practised):
    user, session, recording = practised
    assert recording.is_file()
    receipt = learner_account_delete(user, password_confirmation=PASSWORD)
    assert receipt.deleted["practice.PracticeSession"] == 1
    assert not PracticeSession.objects.filter(pk=session.pk).exists()
    assert not PracticeFeedback.objects.filter(session_id=session.pk).exists()
    assert not recording.exists() and not Path(recording.parent).exists()
