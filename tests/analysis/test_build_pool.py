"""The build script's written feedback pool: read by language, held-out lines chosen by hash (stable)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUILD = Path(__file__).resolve().parents[2] / "scripts" / "build_default_model.py"


def build_module():
    spec = importlib.util.spec_from_file_location("build_default_model", BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_written_feedback_is_read_by_language_without_blanks_or_repeats(tmp_path: Path) -> None:
    build = build_module()
    (tmp_path / "en.txt").write_text("Great service.\n\nGreat service.\nLate again!\n", encoding="utf-8")
    (tmp_path / "en_2.txt").write_text("Late again!\nNever again.\n", encoding="utf-8")
    (tmp_path / "de.txt").write_text("Viel zu spät.\n", encoding="utf-8")
    pool = build.written_feedback(tmp_path)
    assert pool == {"de": ["Viel zu spät."], "en": ["Great service.", "Late again!", "Never again."]}


def test_held_out_lines_are_a_stable_share_of_each_language() -> None:
    build = build_module()
    written = {"en": [f"line {i}" for i in range(2000)], "de": [f"Zeile {i}" for i in range(500)]}
    kept, held = build.split_held_out(written, 0.2)
    again_kept, again_held = build.split_held_out(written, 0.2)
    assert (kept, held) == (again_kept, again_held)
    for language, lines in written.items():
        assert sorted(kept[language] + held[language]) == sorted(lines)
        assert 0.15 < len(held[language]) / len(lines) < 0.25
    assert build.split_held_out(written, 0.0) == (written, {})


def test_the_shipped_pool_is_there_in_fourteen_languages() -> None:
    pool = build_module().written_feedback()
    assert set(pool) == {"en", "de", "fr", "es", "pt", "it", "nl", "pl", "tr", "ru", "ja", "ko", "ar", "th"}
    assert len(pool["en"]) >= 4000 and all(len(lines) >= 200 for lines in pool.values())
