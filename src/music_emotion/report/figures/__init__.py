"""Every figure the project draws, in one place: results of a run (`results`), spectrograms (`spectrograms`), the
experiment's differences (`experiment`) and a listener's songs in the valence-arousal plane (`va_plane`), all in
`report.figure_style`'s look."""
