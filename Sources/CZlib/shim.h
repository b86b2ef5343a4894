// zlib (Debian's zlib1g-dev): gzip for the DMARC and TLS reports mailnode sends.
#include <zlib.h>
