"""`tokbench fit-audio`, `eval-audio`, `tokenize-audio`, `detokenize`: the audio codec's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tokbench.cli import app
from tokbench.cli.common import (BETTER_LEGEND, DEFAULT_RUNS_DIR, JsonOpt, NameOpt, RunsDirOpt, better_header, emit,
                                  fmt, stderr, stdout)

#: which way each codebook-level statistic improves (+1 higher, -1 lower is better)
LEVEL_DIRECTIONS = {"level": 0, "usage": 1, "entropy_bits": 1, "perplexity": 1, "dead_codes": -1}
DataOpt = Annotated[Optional[list[str]], typer.Option(
    "--data", "-d", help="Audio source, repeatable: a wav/flac file or folder, builtin:speech or builtin:signals.")]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", help="Leave unreadable or empty files out (counted) "
                                          "instead of stopping.")]
#: report metric -> short table header (the JSON keeps the full names)
COLUMNS = {"kbps": "kbps", "tokens_per_second": "tok/s", "si_snr_db": "SI-SNR dB", "sdr_db": "SDR dB",
           "mrstft_distance": "MR-STFT", "mel_distance": "mel", "stoi": "STOI", "pesq_wb": "PESQ-WB"}
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda or auto (default: CUDA when present).")]


def _warn(result: dict[str, Any]) -> None:
    for line in result.get("warnings", []) or []:
        stderr.print(f"[yellow]warning:[/yellow] {line}")


@app.command("fit-audio")
def fit_audio_command(
    data: DataOpt = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Training steps (default 1500).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Segments per step (default 8).")] = None,
    segment: Annotated[Optional[float], typer.Option("--segment", help="Segment seconds (default 0.64).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak Adam learning rate (default 1e-3).")] = None,
    n_q: Annotated[int, typer.Option("--n-q", help="Residual quantizers (N).")] = 8,
    codebook_size: Annotated[int, typer.Option("--codebook-size", "-k", help="Codes per quantizer (K).")] = 256,
    dim: Annotated[int, typer.Option("--dim", help="Latent / codebook dimension.")] = 64,
    channels: Annotated[int, typer.Option("--channels", help="Encoder width after the first conv.")] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Seed: model init, batches and quantizer dropout.")] = 0,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: torch's; "
                                                   "1 is fastest on a busy CPU).")] = None,
    device: DeviceOpt = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue an interrupted or failed run folder "
                                                   "from its last checkpoint.")] = None,
    skip_bad: SkipBadOpt = False,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a residual-VQ audio codec (16 kHz, 50 frames/s) into a run folder.

    With no **--data** it trains on **builtin:speech** (espeak-ng speech). Quantizer dropout
    lets one model decode at every bitrate; **tokbench eval-audio RUN** measures them.
    """
    from tokbench import fit_audio

    result = fit_audio(data, steps, batch_size=batch_size, segment_seconds=segment, lr=lr,
                       n_q=n_q, codebook_size=codebook_size, dim=dim, channels=channels, seed=seed, device=device,
                       runs_dir=runs_dir, name=name, resume=resume, threads=threads,
                       on_error="skip" if skip_bad else "error")
    _warn(result)

    def render(r: dict[str, Any]) -> None:
        stdout.print(f"trained {r['steps']} steps on {fmt(r['train_seconds_of_audio'])} s of audio "
                     f"({fmt(r['audio_seconds_per_second'])} s of audio per second, {r['device']}); "
                     f"final loss {fmt(r['final_loss'])}")
        stdout.print(f"{r['n_q']} quantizers x {r['codebook_size']} codes at {fmt(r['frame_rate'])} frames/s")
        stdout.print(f"run: {r['run_dir']}   next: tokbench eval-audio {r['run_dir']}")

    emit(result, json_out, render)


@app.command("eval-audio")
def eval_audio_command(
    run: Annotated[Path, typer.Argument(help="An audio-codec run folder.")],
    data: Annotated[Optional[list[str]], typer.Option(
        "--data", "-d", help="Audio source, repeatable: a wav/flac file or folder, builtin:speech or builtin:signals. "
        "Default: the sources the run was trained on (run.json); the report notes any other source.")] = None,
    split: Annotated[str, typer.Option("--split", help="all, train or test.")] = "test",
    max_clips: Annotated[Optional[int], typer.Option("--max-clips", help="Evaluate at most this many clips "
                                                    "(default all).")] = None,
    wavs: Annotated[int, typer.Option("--wavs", help="Clips written to artifacts/eval as wavs.")] = 3,
    skip_bad: SkipBadOpt = False,
    device: DeviceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rate-distortion table of a trained codec for 1..N quantizers (written into the run's report.json)."""
    from tokbench import evaluate_audio

    result = evaluate_audio(run, data, split=split, max_clips=max_clips, n_wavs=wavs,
                            device=device, on_error="skip" if skip_bad else "error")
    _warn(result)

    def render(r: dict[str, Any]) -> None:
        from rich.table import Table

        from tokbench.audio.evaluate import HIGHER_IS_BETTER

        cols = [c for c in COLUMNS if any(c in b for b in r["budgets"])]
        table = Table(title=f"{r['subject']} on {r['dataset']} ({r['clips']} clips, {fmt(r['seconds'])} s)")
        table.add_column("n_q", justify="right", style="bold")
        for c in cols:
            direction = (1 if HIGHER_IS_BETTER[c] else -1) if c in HIGHER_IS_BETTER else 0
            table.add_column(better_header(COLUMNS[c], direction), justify="right", no_wrap=True)
        for b in r["budgets"]:
            table.add_row(str(b["n_q"]), *[f"{b[c]:.2f}" if b.get(c) is not None else "-" for c in cols])
        stdout.print(table)
        levels = Table(title="codebook use per quantizer level")
        for c, direction in LEVEL_DIRECTIONS.items():
            levels.add_column(better_header(c, direction), justify="right")
        for lv in r["levels"]:
            levels.add_row(*[fmt(lv[c]) for c in ("level", "usage", "entropy_bits", "perplexity", "dead_codes")])
        stdout.print(levels)
        stdout.print(BETTER_LEGEND)
        for note in r.get("notes") or []:
            stdout.print(f"[yellow]note:[/yellow] {note}")
        mono = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in r["monotonic"].items())
        stdout.print(f"improves with every added quantizer: {mono}")
        for u in r["unavailable"]:
            stdout.print(f"[dim]unavailable: {u['metric']}: {u['reason']}[/dim]")
        stdout.print(f"wavs: {r['eval_dir']}")

    emit(result, json_out, render)


@app.command("tokenize-audio")
def tokenize_audio_command(
    file: Annotated[Path, typer.Argument(help="A wav or flac file (resampled to the model rate).")],
    run: Annotated[Path, typer.Option("--run", help="The audio-codec run folder whose model encodes.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Token file to write (.npz).")],
    n_q: Annotated[Optional[int], typer.Option("--n-q", help="Keep only the first n_q quantizers "
                                                    "(default all).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Encode an audio file into codec tokens (an npz with codes (n_q, T) and what decoding needs)."""
    from tokbench import tokenize_file

    result = tokenize_file(file, run, out, n_q=n_q)
    _warn(result)
    emit(result, json_out, lambda r: stdout.print(
        f"{r['input']}: {fmt(r['seconds'])} s -> {r['tokens']:,} tokens ({r['n_q']} x {r['frames']} frames, "
        f"{fmt(r['kbps'])} kbps) -> {r['output']}"))


@app.command("detokenize")
def detokenize_command(
    tokens: Annotated[Path, typer.Argument(help="A token file written by tokenize-audio.")],
    run: Annotated[Path, typer.Option("--run", help="The audio-codec run folder that made the tokens.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Wav file to write (16-bit PCM).")],
    n_q: Annotated[Optional[int], typer.Option("--n-q", help="Decode from only the first n_q quantizers "
                                                    "(default all in the token file).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Decode a token file back into a wav so you can listen to it."""
    from tokbench import detokenize_file

    result = detokenize_file(tokens, run, out, n_q=n_q)
    if result["clipped_samples"]:
        stderr.print(f"[yellow]warning:[/yellow] {result['clipped_samples']} decoded samples exceeded full scale "
                     "and were clipped")
    emit(result, json_out, lambda r: stdout.print(f"{r['input']} -> {r['output']} ({fmt(r['seconds'])} s, "
                                                  f"{r['n_q']} quantizers)"))
