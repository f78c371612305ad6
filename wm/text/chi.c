/* The complex human instruction (CHI) SANA-WM prepends to every positive prompt.
 *
 * Verbatim from NVlabs/Sana configs/sana_wm/sana_wm_1600m_720p.yaml, text_encoder.chi_prompt: eight
 * lines joined with "\n"; the last line is "User Prompt: " with one trailing space, and the first line
 * writes "Enhanced prompt" in double quotes (diffusers' copy uses single quotes, which changes token ids).
 * Kept in the source rather than a data file so the binary cannot run with a missing or edited copy;
 * any change to a single character changes the embeddings (tests compare against tools/reference/gemma2.py
 * CHI_TEXT, the same text typed independently).
 */
#include "wm/text/text_encoder.h"

static const char k_chi[] =
    "Given a user prompt, generate an \"Enhanced prompt\" that provides detailed visual descriptions suitable for "
    "image generation. Evaluate the level of detail in the user prompt:\n"
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial "
    "relationships to create vivid and concrete scenes.\n"
    "- If the prompt is already detailed, refine and enhance the existing details slightly without "
    "overcomplicating.\n"
    "Here are examples of how to transform or refine prompts:\n"
    "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping "
    "peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.\n"
    "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing "
    "street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering "
    "glass skyscrapers.\n"
    "Please generate only the enhanced description for the prompt below and avoid including any additional "
    "commentary or evaluations:\n"
    "User Prompt: ";

const char *wm_text_chi_default(void) { return k_chi; }
