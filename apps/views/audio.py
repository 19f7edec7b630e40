"""Audio page: rate–distortion (SI-SNR and mel distance vs kbps), spectrograms and players."""

from __future__ import annotations

import re

import streamlit as st

from tbdash import charts, curves, data, media, tables

ORIGINAL = re.compile(r"^original_(\d+)\.wav$")
RECON = re.compile(r"^recon_q(\d+)_(\d+)\.wav$")



def clip_label(run: str, index: int, dataset: str) -> str:
    """A clip as a person names it: which run, which clip of which evaluation set."""
    return f"{run} · clip {index + 1}" + (f" of {dataset}" if dataset else "")


runs_dir, records = data.context()
st.title("Audio tokenizers")
runs, from_user = data.selection(records, data.AUDIO_KINDS)
if not runs:
    data.guidance(runs_dir, f"No audio runs in `{runs_dir}` yet. Train a codec with `tokbench fit-audio`, then "
                  "`tokbench eval-audio runs/<RUN>` for rate–distortion numbers and reconstructed audio.")
    st.stop()
data.pick_note(from_user, runs, "audio runs")
st.markdown("**Runs:** " + " · ".join(f"`{r.name}`" for r in runs))

tab_rd, tab_listen, tab_train = st.tabs(["Rate–distortion", "Listen", "Training"])

with tab_rd:
    rows = data.metric_rows(runs)
    rows = rows[rows["budget"].notna()].copy() if not rows.empty else rows
    if rows.empty:
        st.info("No per-budget evaluation rows yet: run `tokbench eval-audio runs/<RUN>`.")
    else:
        rows["budget"] = rows["budget"].astype(int)
        multi = rows.groupby("subject")["run"].nunique().max() > 1
        rows["codec"] = rows["run"] + "/" + rows["subject"] if multi else rows["subject"]
        keys = ["codec", "run", "dataset", "budget"]
        kbps = rows[rows["metric"] == "kbps"][keys + ["value"]].rename(columns={"value": "kbps"})
        wide = rows.pivot_table(index=keys, columns="metric", values="value", aggfunc="first").reset_index()
        if kbps.empty:
            st.warning("The report has no kbps rows: cannot draw rate–distortion.")
        else:
            others = sorted(m for m in rows["metric"].unique() if m not in ("kbps", "tokens_per_second"))
            default = [m for m in ("si_snr_db", "mel_distance") if m in others] or others[:2]
            chosen = st.multiselect("Measures", others, default=default, key="audio_rd_metrics")
            cols = st.columns(max(1, min(2, len(chosen))))
            for k, metric in enumerate(chosen):
                frame = rows[rows["metric"] == metric][keys + ["value"]].merge(kbps, on=keys)
                frame = frame.dropna(subset=["value", "kbps"]).sort_values(["codec", "kbps"])
                with cols[k % len(cols)]:
                    st.markdown(f"**{metric} vs kbps**")
                    st.altair_chart(charts.lines(frame, "kbps", "value", "codec", "kbps", metric),
                                    width="stretch")
        st.subheader("By number of quantizers")
        show = [c for c in ("kbps", "tokens_per_second", "si_snr_db", "sdr_db", "mel_distance", "mrstft_distance")
                if c in wide.columns] + sorted(c for c in wide.columns if c not in keys and c not in
                                               ("kbps", "tokens_per_second", "si_snr_db", "sdr_db", "mel_distance",
                                                "mrstft_distance"))
        tables.show(wide.set_index(["codec", "budget"])[show], "audio_rd_table", name="audio-by-quantizers")
    unavailable: dict[tuple[str, str], list[str]] = {}
    for run, m, reason in data.unavailable(runs):  # one note per metric and reason, naming its runs
        unavailable.setdefault((m, reason), []).append(run)
    if unavailable:
        st.caption("Not reported (never estimated): " + "; ".join(
            f"**{m}** ({', '.join(names)}): {reason}" for (m, reason), names in unavailable.items()))

with tab_listen:
    clips: dict[str, tuple] = {}  # label -> (run, clip index, original path, {n_q: recon path})
    for r in runs:
        files = data.run_files(r, "artifacts", "eval")  # regular files only, never through a symlink
        originals = {int(m.group(1)): p for p in files if (m := ORIGINAL.match(p.name))}
        recons: dict[int, dict[int, object]] = {}
        for p in files:
            if m := RECON.match(p.name):
                recons.setdefault(int(m.group(2)), {})[int(m.group(1))] = p
        dataset = next(iter((r.report or {}).get("sections") or {}), "") if isinstance(r.report, dict) else ""
        for k, path in sorted(originals.items()):
            clips[clip_label(r.name, k, dataset)] = (r, k, path, recons.get(k, {}))
    if not clips:
        st.info("No audio to play yet: `tokbench eval-audio runs/<RUN>` writes artifacts/eval/*.wav.")
    else:
        label = st.selectbox("Clip", list(clips), key="audio_clip")
        record, k, original, recon = clips[label]
        items = [("original", original)] + [(f"{q} quantizer{'s' if q != 1 else ''}", p)
                                             for q, p in sorted(recon.items())]
        st.caption("Each reconstruction decodes the first n quantizer levels of the same codes. Spectrograms: "
                   "time (s) across, frequency (kHz) up, level in dB below the loudest bin.")
        per_row = 3
        for start in range(0, len(items), per_row):
            cols = st.columns(per_row)
            for col, (name, path) in zip(cols, items[start:start + per_row]):
                with col:
                    try:
                        samples, rate = media.read_wav(path)
                        audio = path.read_bytes()
                    except (OSError, ValueError, EOFError) as exc:
                        st.warning(f"{path.name}: {exc}")
                        continue
                    st.markdown(f"**{name}** · {len(samples) / rate:.2f} s at {rate:,} Hz")
                    st.audio(audio, format="audio/wav")
                    st.altair_chart(charts.spectrogram(media.spectrogram_frame(samples, rate), f"{name}: "
                                                       f"spectrogram (0–{rate // 2} Hz, dB)"), width="stretch")

with tab_train:
    curves.training_curves(runs, ("loss", "recon_loss", "usage"), key="audio_curves")
