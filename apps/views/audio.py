"""Audio page: rate–distortion (SI-SNR and mel distance vs kbps), spectrograms and players."""

from __future__ import annotations

import re

import streamlit as st

from tbdash import charts, curves, data, media

ORIGINAL = re.compile(r"^original_(\d+)\.wav$")
RECON = re.compile(r"^recon_q(\d+)_(\d+)\.wav$")

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
        st.table(wide.set_index(["codec", "budget"])[show].map(data.fmt))
        for run, m, reason in data.unavailable(runs):
            st.warning(f"{run}: {m} unavailable — {reason}")

with tab_listen:
    found = False
    for r in runs:
        folder = r.artifacts / "eval"
        if not folder.is_dir():
            continue
        originals = {int(m.group(1)): p for p in folder.iterdir() if (m := ORIGINAL.match(p.name))}
        recons: dict[int, dict[int, object]] = {}
        for p in folder.iterdir():
            if m := RECON.match(p.name):
                recons.setdefault(int(m.group(2)), {})[int(m.group(1))] = p
        if not originals:
            continue
        found = True
        st.subheader(r.name)
        sample = st.selectbox("Clip", sorted(originals), key=f"clip_{r.name}")
        items = [("original", originals[sample])] + [(f"{q} quantizer{'s' if q != 1 else ''}", p)
                                                      for q, p in sorted(recons.get(sample, {}).items())]
        for label, path in items:
            left, right = st.columns([1, 2])
            try:
                samples, rate = media.read_wav(path)
            except (OSError, ValueError, EOFError) as exc:
                left.warning(f"{path.name}: {exc}")
                continue
            left.markdown(f"**{label}** · {len(samples) / rate:.2f} s at {rate} Hz")
            left.audio(path.read_bytes(), format="audio/wav")
            right.image(media.spectrogram_image(samples), caption=f"{label}: spectrogram (0–{rate // 2} Hz, dB)",
                        width="stretch")
    if not found:
        st.info("No audio to play yet: `tokbench eval-audio runs/<RUN>` writes artifacts/eval/*.wav.")

with tab_train:
    curves.training_curves(runs, ("loss", "recon_loss", "usage"), key="audio_curves")
