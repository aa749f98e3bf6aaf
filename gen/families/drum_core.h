/* DRUM's operand reduction (shared by drum.c and signed_drum.c; see drum.c for the reference):
 * the DRUM_K-bit segment of v starting at its leading one, with its last bit forced to 1, and the
 * shift that puts it back: v ~ seg << shift. Values that fit in DRUM_K bits are kept exactly. */
#ifndef DRUM_CORE_H
#define DRUM_CORE_H

#ifndef DRUM_K
#define DRUM_K 4
#endif

static unsigned drum_segment(unsigned v, unsigned *shift)
{
    int lead = -1;
    for (int i = 15; i >= 0; i--)
        if ((v >> i) & 1u) {
            lead = i;
            break;
        }
    if (lead < DRUM_K) { /* fits in k bits: exact */
        *shift = 0;
        return v;
    }
    *shift = (unsigned)(lead - DRUM_K + 1);
    return (v >> *shift) | 1u;
}

#endif
