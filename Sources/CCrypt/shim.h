// libxcrypt (Debian's libcrypt-dev): crypt_rn and crypt_gensalt_rn for password hashes.
#include <crypt.h>
