import { builder } from './builder.js'
import './types/scalars.js'
import './types/enums.js'
import './types/user.js'
import './types/order.js'
import './types/change-events.js'
import './types/filters.js'
import './subscriptions/order-changed.js'
import './subscriptions/user-profile-updated.js'
import './queries/orders.js'
import './queries/users.js'
import './queries/operations.js'

export const schema = builder.toSchema({ sortSchema: false })
