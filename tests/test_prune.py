"""Pruning old versions: the newest ones of every dataset stay, nothing is deleted without --delete."""

from music_emotion.tools.prune import main, old_versions


def _versions(folder, *stamps):
    for stamp in stamps:
        (folder / stamp / folder.name).mkdir(parents=True)
        (folder / stamp / folder.name / "x.bin").write_bytes(b"12345")


def test_prune_keeps_the_newest_versions_and_deletes_only_when_asked(tmp_path):
    a, b = tmp_path / "06_models" / "gan" / "trained_model", tmp_path / "08_reporting" / "m.json"
    _versions(a, "2026-11-24T10.00.00.000Z", "2026-11-25T10.00.00.000Z", "2026-11-23T10.00.00.000Z")
    _versions(b, "2026-11-25T09.00.00.000Z")
    listed = main(["--root", str(tmp_path), "--keep", "1"])
    assert [p.name for p in listed] == ["2026-11-23T10.00.00.000Z", "2026-11-24T10.00.00.000Z"]
    assert all(p.exists() for p in listed)  # listing deletes nothing
    main(["--root", str(tmp_path), "--keep", "0", "--delete"])  # keep 0 still keeps the newest
    assert sorted(p.name for p in a.iterdir()) == ["2026-11-25T10.00.00.000Z"]
    assert sorted(p.name for p in b.iterdir()) == ["2026-11-25T09.00.00.000Z"]
    assert old_versions(tmp_path, 1) == []
