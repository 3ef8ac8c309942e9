"""Build tiny, randomly initialised diffusers pipelines on disk - never a download.

Tests (and the demo) need a *real* Stable Diffusion pipeline to exercise the diffusers backend's
loading, verification and inference code paths, but no weights may be fetched. These builders make
architecturally faithful miniatures (VAE with 4 blocks, so ``vae_scale_factor`` is 8 as in real SD;
~1 M parameters) and save them with ``save_pretrained`` so the backend loads them exactly as it loads a
user's weights. Output is noise: that is expected.

transformers 5.x trap (stack notes 5): ``CLIPTokenizer(vocab_file=..., merges_file=...)`` is
silently ignored; the tokenizer is built from an in-memory byte-level vocabulary instead.
"""

from __future__ import annotations

from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77


def _byte_unicode_chars() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP use for raw bytes (written from the published scheme)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def byte_level_vocab() -> dict[str, int]:
    """Character-level CLIP vocabulary: every byte, its end-of-word form, plus BOS/EOS (514 tokens)."""
    chars = _byte_unicode_chars()
    tokens = chars + [c + "</w>" for c in chars] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def _tokenizer():
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=MAX_TOKENS,
                         bos_token=BOS, eos_token=EOS, unk_token=EOS, pad_token=EOS)


def _text_encoder(vocab: dict[str, int], seed: int):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=len(vocab),
        bos_token_id=vocab[BOS], eos_token_id=vocab[EOS], pad_token_id=vocab[EOS],
        max_position_embeddings=MAX_TOKENS, projection_dim=32))


UNET_BLOCKS = (32, 64)
VAE_OUTPUT_GAIN = 0.15


def _unet(seed: int):
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        block_out_channels=UNET_BLOCKS, layers_per_block=1, sample_size=64, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)


def _vae(seed: int):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(block_out_channels=[16, 16, 16, 16], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        latent_channels=4, norm_num_groups=8, sample_size=512)
    # random decoders emit full-contrast per-pixel noise (std ~45 grey levels), unlike any picture a
    # trained model makes; damp the last layer so frames are low-contrast texture (std ~6) around mid-grey
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(VAE_OUTPUT_GAIN)
        vae.decoder.conv_out.bias.zero_()
    return vae


def build_tiny_sd(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny StableDiffusionPipeline (text2img; img2img and inpaint reuse its components).

    Deterministic for a given ``seed``, so two builds give identical weights (and weights digest)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    directory = Path(directory)
    tokenizer = _tokenizer()
    pipe = StableDiffusionPipeline(
        vae=_vae(seed), text_encoder=_text_encoder(tokenizer.get_vocab(), seed + 1), tokenizer=tokenizer,
        unet=_unet(seed + 2), scheduler=EulerDiscreteScheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


def build_tiny_controlnet(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny ControlNetModel matching ``build_tiny_sd``'s UNet (for the controlnet-depth mode).

    Put it inside the pipeline directory (e.g. ``<pipeline>/controlnet``) so the weights digest covers it."""
    import torch
    from diffusers import ControlNetModel

    directory = Path(directory)
    torch.manual_seed(seed + 3)
    controlnet = ControlNetModel(
        block_out_channels=UNET_BLOCKS, layers_per_block=1, in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=32, attention_head_dim=8,
        norm_num_groups=8, conditioning_embedding_out_channels=(8, 16, 16, 32))  # 3 stride-2 convs: 1/8 like the latents
    # a fresh ControlNet starts with zero-initialised output convs (no effect on the UNet, by design for
    # fine-tuning); give them random weights so tests can see the depth map steer the result
    zero_convs = [controlnet.controlnet_cond_embedding.conv_out, controlnet.controlnet_mid_block,
                  *controlnet.controlnet_down_blocks]
    with torch.no_grad():
        for conv in zero_convs:
            torch.nn.init.normal_(conv.weight, std=0.05)
    directory.mkdir(parents=True, exist_ok=True)
    controlnet.save_pretrained(directory, safe_serialization=True)
    return directory
